using Lguest.Devices;
using Lguest.Hypervisor;
using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Extensions.Logging.Abstractions;
using F = Lguest.Devices.VirtioNetFeatures;

namespace Lguest.Tests.Devices.Net;

/// <summary>Frames of every size both ways, with and without offloads, and the cost of a frame.</summary>
public class VirtioNetTrafficTests
{
    private const int MaxPayload = 1500 - EthernetFrames.IpHeader - EthernetFrames.UdpHeader; // 1472: an MTU-sized frame
    private const int Round = 128;

    private static readonly ulong[] FeatureSets =
    [
        NetTestBed.RingFeatures,
        NetTestBed.RingFeatures | F.MergeableRxBuffers | F.Checksum | F.GuestChecksum | F.HostTso4 | F.HostTso6
            | F.GuestTso4 | F.GuestTso6 | F.GuestEcn | F.HostEcn,
    ];

    [TestCaseSource(nameof(FeatureSets))]
    public void Datagrams_of_every_size_up_to_the_MTU_reach_the_guest_intact(ulong features)
    {
        using var bed = new NetTestBed(features: features);
        bool mergeable = (features & F.MergeableRxBuffers) != 0;
        var buffers = new Dictionary<uint, DriverBuffer>();
        for (int start = 0; start <= MaxPayload; start += Round)
        {
            int count = Math.Min(Round, MaxPayload + 1 - start);
            // Mergeable: page-sized buffers as Linux posts them, and at first 17 more, so the device can
            // hold room for a 64 KiB frame (it keeps those across rounds; the arena is not reused).
            // One-chain: a buffer per frame, all returned each round.
            if (!mergeable)
                bed.Arena.Reset();
            for (int i = 0; i < (mergeable && start == 0 ? count + 17 : count); i++)
            {
                DriverBuffer b = bed.Rx.Writable(mergeable ? 4096u : 1526u);
                buffers[bed.Rx.Add(b)] = b;
            }
            bed.Rx.Kick();
            for (int i = 0; i < count; i++)
                bed.HostSend(EthernetFrames.Pattern(start + i, start + i));
            for (int i = 0; i < count; i++)
            {
                VringUsedElement used = bed.Rx.WaitForUsed(bed.Transport);
                byte[] bytes = bed.Rx.ReadBuffer(buffers[used.Id]);
                Assert.That(BitConverter.ToUInt16(bytes, VirtioNetHeader.NumBuffersOffset), Is.EqualTo(1), $"num_buffers, size {start + i}");
                Assert.That(EthernetFrames.UdpPayload(bytes.AsSpan(VirtioNetHeader.Size..(int)used.Length), NetTestBed.GuestPort),
                    Is.EqualTo(EthernetFrames.Pattern(start + i, start + i)), $"payload of {start + i} bytes");
            }
        }
        Assert.Multiple(() =>
        {
            Assert.That(bed.Counters.ReceivedPackets, Is.EqualTo(MaxPayload + 1));
            Assert.That(bed.Counters.TotalDrops, Is.Zero);
        });
    }

    [TestCaseSource(nameof(FeatureSets))]
    public void Frames_of_every_size_up_to_the_MTU_reach_the_host_intact(ulong features)
    {
        using var bed = new NetTestBed(features: features);
        bool checksum = (features & F.Checksum) != 0;
        for (int start = 0; start <= MaxPayload; start += Round)
        {
            int count = Math.Min(Round, MaxPayload + 1 - start);
            bed.Arena.Reset();
            for (int i = 0; i < count; i++)
            {
                int size = start + i;
                byte[] frame = bed.GuestToHost(EthernetFrames.Pattern(size, size));
                byte[] header = NetTestBed.Header();
                if (checksum && size % 2 == 0)
                {
                    // Every other frame leaves its checksum to the host, as Linux does with CSUM.
                    EthernetFrames.MakePartial(frame);
                    header = NetTestBed.Header(VirtioNetHeader.FlagNeedsChecksum, csumStart: EthernetFrames.UdpOffset, csumOffset: 6);
                }
                bed.Tx.Add(bed.Tx.Readable(header), bed.Tx.Readable(frame));
            }
            bed.Tx.Kick();
            for (int i = 0; i < count; i++)
                Assert.That(bed.HostReceive(), Is.EqualTo(EthernetFrames.Pattern(start + i, start + i)), $"payload of {start + i} bytes");
            bed.Tx.WaitForUsed(bed.Transport, count);
        }
        Assert.Multiple(() =>
        {
            Assert.That(bed.Counters.TransmittedPackets, Is.EqualTo(MaxPayload + 1));
            Assert.That(bed.Counters.TotalDrops, Is.Zero);
        });
    }

    [Test]
    public void Sending_a_batch_of_frames_allocates_nothing_once_warm()
    {
        using var bed = new NetTestBed(activate: false);
        using var stop = new EventNotifier();
        var transmitter = new NetTransmitter(bed.Memory, bed.Tx.CreateQueue("net0 vq 1"), bed.Transport, bed.Tap,
            NetTestBed.RingFeatures, bed.Counters, stop, "net0", NullLogger.Instance);
        long allocated = -1;
        for (int round = 0; round < 3; round++)
        {
            bed.Arena.Reset();
            for (int i = 0; i < 32; i++)
                bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost(new byte[100 + i])));
            bed.Tx.Publish();

            long before = GC.GetAllocatedBytesForCurrentThread();
            int served = transmitter.ServeAvailable(out _);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Assert.That(served, Is.EqualTo(32));
            for (int i = 0; i < 32; i++)
                bed.HostReceive();
            while (bed.Tx.TryTakeUsed(out _))
            {
            }
        }
        Assert.That(allocated, Is.Zero, "bytes allocated sending the third batch");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Receiving_a_batch_of_frames_allocates_nothing_once_warm(bool mergeable)
    {
        ulong features = NetTestBed.RingFeatures | (mergeable ? F.MergeableRxBuffers : 0);
        using var bed = new NetTestBed(features: features, activate: false);
        var receiver = new NetReceiver(bed.Memory, bed.Rx.CreateQueue("net0 vq 0"), bed.Transport, bed.Tap, features,
            VirtioNetNegotiation.ReceiveFrameLimit(features, bed.Mtu), bed.Counters, "net0", NullLogger.Instance);
        long allocated = -1;
        for (int round = 0; round < 3; round++)
        {
            bed.Arena.Reset();
            for (int i = 0; i < 32; i++)
                bed.Rx.Add(bed.Rx.Writable(2048));
            bed.Rx.Publish();
            for (int i = 0; i < 32; i++)
                bed.HostSend(new byte[200 + i]);

            long before = GC.GetAllocatedBytesForCurrentThread();
            NetReceiver.Outcome outcome = receiver.ReceiveAvailable(out int frames);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Assert.That(frames, Is.EqualTo(32));
            Assert.That(outcome, Is.EqualTo(NetReceiver.Outcome.NeedBuffers));
            while (bed.Rx.TryTakeUsed(out _))
            {
            }
        }
        Assert.That(allocated, Is.Zero, "bytes allocated receiving the third batch");
    }
}
