using Lguest.Devices;
using Lguest.Devices.Interop;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Devices.Net;

/// <summary>
/// <see cref="VirtioNetOptions.TransmitOnVcpu"/> (issue 20's fifth pass, QEMU's ioeventfd=off): frames notified through
/// <see cref="Virtqueue.Notify"/> (as the transport delivers a vCPU's notification) are written to the tap on the
/// notifying thread while the transmit worker sleeps; what that thread must not wait for goes to the worker.
/// </summary>
public class VirtioNetTransmitOnVcpuTests
{
    private const int Attempts = 20;

    [TestCase(1)]
    [TestCase(8)]
    public void Frames_notified_from_a_vcpu_are_on_the_tap_before_the_notification_returns(int frames)
    {
        using var bed = new NetTestBed();
        Assert.That(bed.TxQueue!.ServesNotificationsInline, Is.True);
        int onTheVcpu = 0;
        for (int i = 0; i < Attempts; i++)
        {
            InlineServing.WaitForTheWorkerToSleep(bed.TxQueue);
            ushort before = bed.Tx.UsedIndex;
            for (int f = 0; f < frames; f++)
                bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost([(byte)i, (byte)f, 3, 4])));
            bed.KickTransmitFromVcpu();
            if ((ushort)(bed.Tx.UsedIndex - before) == frames)
                onTheVcpu++;
            bed.Tx.WaitForUsed(bed.Transport, frames);
            for (int f = 0; f < frames; f++)
                Assert.That(bed.HostReceive(), Is.EqualTo(new byte[] { (byte)i, (byte)f, 3, 4 }), $"datagram {f} of attempt {i}, in order");
        }
        Assert.That(onTheVcpu, Is.GreaterThan(Attempts / 2), $"of {Attempts} notifications, {onTheVcpu} were served on the notifying thread");
        Assert.That(bed.Counters.TransmittedPackets, Is.EqualTo((long)Attempts * frames));
    }

    [Test]
    public void More_frames_than_a_batch_go_partly_to_the_worker_and_all_leave_in_order()
    {
        using var bed = new NetTestBed();
        const int Frames = 150; // more than the 64 a vCPU writes in one notification
        InlineServing.WaitForTheWorkerToSleep(bed.TxQueue!);
        for (int f = 0; f < Frames; f++)
            bed.Tx.Add(bed.Tx.Readable([.. NetTestBed.Header(), .. bed.GuestToHost([(byte)f, 7])]));
        bed.KickTransmitFromVcpu();
        bed.Tx.WaitForUsed(bed.Transport, Frames);
        for (int f = 0; f < Frames; f++)
            Assert.That(bed.HostReceive(), Is.EqualTo(new byte[] { (byte)f, 7 }), $"datagram {f}");
        Assert.That(bed.Counters.TotalDrops, Is.Zero);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void A_frame_of_many_buffers_notified_from_a_vcpu_leaves_in_order_even_across_a_pause(bool pause)
    {
        using var bed = new NetTestBed();
        for (int round = 0; round < 5; round++)
        {
            InlineServing.WaitForTheWorkerToSleep(bed.TxQueue!);
            ushort before = bed.Tx.UsedIndex;
            bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost([(byte)round, 1])));
            // 30 buffers of frame behind the header: more than the 20 a worker's batch slot holds.
            byte[] frame = bed.GuestToHost(EthernetFrames.Pattern(600, round));
            var buffers = new List<DriverBuffer> { bed.Tx.Readable(NetTestBed.Header()) };
            int piece = (frame.Length + 29) / 30;
            for (int offset = 0; offset < frame.Length; offset += piece)
                buffers.Add(bed.Tx.Readable(frame.AsSpan(offset, Math.Min(piece, frame.Length - offset))));
            Assert.That(buffers, Has.Count.GreaterThan(21));
            bed.Tx.Add(indirect: true, [.. buffers]);
            bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost([(byte)round, 3])));
            bed.KickTransmitFromVcpu();
            if (pause)
            {
                // Every frame the device took is sent (or returned) before Pause returns: the first two (the vCPU took
                // them); the third is answered too, or still in the ring if the stop came before the worker popped it.
                bed.Device.Pause();
                int answered = (ushort)(bed.Tx.UsedIndex - before);
                Assert.That(answered, Is.GreaterThanOrEqualTo(2), $"round {round}: the frames the vCPU took answered by the pause");
                Assert.That(answered + bed.TxQueue!.Ring.AvailableCount(), Is.EqualTo(3), $"round {round}: taken and not answered");
                bed.Device.Resume();
            }
            bed.Tx.WaitForUsed(bed.Transport, 3);
            Assert.That(bed.HostReceive(), Is.EqualTo(new byte[] { (byte)round, 1 }), $"round {round}: first");
            Assert.That(bed.HostReceive(), Is.EqualTo(EthernetFrames.Pattern(600, round)), $"round {round}: the many-buffer frame second");
            Assert.That(bed.HostReceive(), Is.EqualTo(new byte[] { (byte)round, 3 }), $"round {round}: last");
        }
        Assert.That(bed.Counters.TotalDrops, Is.Zero);
        Assert.That(bed.Transport.BadDrivers, Is.Empty);
    }

    [Test]
    public void A_malformed_frame_notified_from_a_vcpu_is_dropped_counted_and_the_next_sent()
    {
        using var bed = new NetTestBed();
        InlineServing.WaitForTheWorkerToSleep(bed.TxQueue!);
        bed.Tx.Add(bed.Tx.Readable(new byte[11])); // shorter than the header
        bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost([9, 9])));
        bed.KickTransmitFromVcpu();
        bed.Tx.WaitForUsed(bed.Transport, 2);
        Assert.That(bed.HostReceive(), Is.EqualTo(new byte[] { 9, 9 }));
        Assert.That(bed.Counters.Drops(VirtioNetDrop.TransmitTooShort), Is.EqualTo(1));
        Assert.That(bed.Transport.BadDrivers, Is.Empty);
    }

    [Test]
    public void A_looping_chain_notified_from_a_vcpu_is_reported_and_the_vcpu_carries_on()
    {
        using var bed = new NetTestBed();
        // Descriptors 200 and 201 (queue size 256, far from those Add hands out) point at each other.
        DriverBuffer header = bed.Tx.Readable(NetTestBed.Header()), frame = bed.Tx.Readable(bed.GuestToHost([1]));
        bed.Tx.WriteRawDescriptor(200, new VringDescriptor(header.Address.Value, header.Length, VringDescriptor.FlagNext, 201));
        bed.Tx.WriteRawDescriptor(201, new VringDescriptor(frame.Address.Value, frame.Length, VringDescriptor.FlagNext, 200));
        bed.Tx.AddRawHead(200);
        InlineServing.WaitForTheWorkerToSleep(bed.TxQueue!);
        Assert.DoesNotThrow(bed.KickTransmitFromVcpu, "a bad chain is the device's error, never the vCPU's");
        Assert.That(bed.Transport.BadDriverReported.Wait(timeoutMilliseconds: 10_000), Is.True);
        Assert.That(bed.Transport.BadDrivers, Has.Count.EqualTo(1));

        // The queue is no longer served: later notifications touch nothing and throw nothing.
        bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost([2])));
        ushort used = bed.Tx.UsedIndex;
        Assert.DoesNotThrow(bed.KickTransmitFromVcpu);
        Thread.Sleep(50);
        Assert.That(bed.Tx.UsedIndex, Is.EqualTo(used));
    }

    [Test]
    public void Without_TransmitOnVcpu_every_notification_wakes_the_worker()
    {
        using var bed = new NetTestBed(options: new VirtioNetOptions { TransmitOnVcpu = false });
        Assert.That(bed.TxQueue!.ServesNotificationsInline, Is.False);
        byte[] payload = EthernetFrames.Pattern(100, 5);
        bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost(payload)));
        bed.KickTransmitFromVcpu();
        bed.Tx.WaitForUsed(bed.Transport);
        Assert.That(bed.HostReceive(), Is.EqualTo(payload));
    }
}
