using Lguest.Devices;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Net;

/// <summary>
/// A frame the host kernel refuses (its own virtio_net_hdr_to_skb checks) among good ones, whether the worker writes
/// it or the notifying vCPU does (the one-shot write both share): dropped and counted as TransmitHostRefused, its
/// buffers returned, and the frames around it sent in order.
/// </summary>
public class VirtioNetTransmitHostRefusedTests
{
    private const int Rounds = 5;

    [TestCase(true, TestName = "A frame the host refuses, notified from a vCPU, is dropped and counted and the others leave in order")]
    [TestCase(false, TestName = "A frame the host refuses, written by the worker, is dropped and counted and the others leave in order")]
    public void A_frame_the_host_refuses_is_dropped_and_counted_and_the_others_leave_in_order(bool onVcpu)
    {
        using var bed = new NetTestBed(features: NetTestBed.RingFeatures | VirtioNetFeatures.Checksum,
            options: new VirtioNetOptions { TransmitOnVcpu = onVcpu });
        for (int round = 0; round < Rounds; round++)
        {
            if (onVcpu)
                InlineServing.WaitForTheWorkerToSleep(bed.TxQueue!);
            bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost([(byte)round, 1])));
            // csum_start beyond the frame: allowed by the features, refused by the kernel's own checks (EINVAL).
            bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header(VirtioNetHeader.FlagNeedsChecksum, csumStart: 4000, csumOffset: 6)),
                bed.Tx.Readable(bed.GuestToHost(new byte[10])));
            bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost([(byte)round, 3])));
            bed.KickTransmitFromVcpu();
            bed.Tx.WaitForUsed(bed.Transport, 3);
            Assert.That(bed.HostReceive(), Is.EqualTo(new byte[] { (byte)round, 1 }), $"round {round}: first");
            Assert.That(bed.HostReceive(), Is.EqualTo(new byte[] { (byte)round, 3 }), $"round {round}: the one after the refused frame");
        }
        Assert.Multiple(() =>
        {
            Assert.That(bed.Counters.Drops(VirtioNetDrop.TransmitHostRefused), Is.EqualTo(Rounds));
            Assert.That(bed.Counters.TotalDrops, Is.EqualTo(Rounds));
            Assert.That(bed.Counters.TransmittedPackets, Is.EqualTo(2L * Rounds));
            Assert.That(bed.Transport.BadDrivers, Is.Empty);
        });
    }
}
