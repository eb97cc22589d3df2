using Lguest.Devices;
using Lguest.Hypervisor;
using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Tests.Devices.Block;

/// <summary>How the block device serves its queue: batches, interrupts, allocation, bad chains, reset.</summary>
public class VirtioBlockQueueTests
{
    // Long enough for a live worker to serve a request many times over; the assertions after it can
    // only pass falsely if the machine stalls the worker that long.
    private const int QuietMilliseconds = 300;

    [Test]
    public void Requests_published_together_are_served_as_one_batch_with_one_interrupt()
    {
        using var bed = new BlockTestBed();
        var statuses = new List<DriverBuffer>();
        for (int i = 0; i < 16; i++)
        {
            DriverBuffer status = bed.Status();
            statuses.Add(status);
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, (ulong)i * 8), bed.Driver.Writable(4096), status);
        }
        bed.Driver.Kick();
        List<VringUsedElement> used = bed.Driver.WaitForUsed(bed.Transport, 16);
        Assert.That(used, Has.Count.EqualTo(16));
        Assert.That(statuses.Select(bed.StatusOf), Is.All.EqualTo(VirtioBlockStatus.Ok));
        Assert.That(bed.Transport.Signals(0), Is.EqualTo(1));
    }

    [Test]
    public void Each_request_of_a_batch_is_returned_with_its_own_head_and_length()
    {
        using var bed = new BlockTestBed();
        ushort read = bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, 0), bed.Driver.Writable(2048), bed.Status());
        ushort write = bed.Driver.Add(bed.Header(VirtioBlockRequestType.Out, 8), bed.Driver.Readable(new byte[512]), bed.Status());
        ushort id = bed.Driver.Add(bed.Header(VirtioBlockRequestType.GetId, 0), bed.Driver.Writable(20), bed.Status());
        bed.Driver.Kick();
        List<VringUsedElement> used = bed.Driver.WaitForUsed(bed.Transport, 3);
        // Requests in flight may complete in any order (virtio 1.2 §2.7.8): each with its own head and length.
        Assert.That(used.Select(u => (u.Id, u.Length)), Is.EquivalentTo(new[] { ((uint)read, 2049u), ((uint)write, 1u), ((uint)id, 21u) }));
    }

    [Test]
    public void A_driver_that_sets_NO_INTERRUPT_gets_its_requests_served_without_an_interrupt()
    {
        using var bed = new BlockTestBed(features: VirtioFeatures.Version1);
        bed.Driver.SetAvailableFlags(1); // VIRTQ_AVAIL_F_NO_INTERRUPT
        DriverBuffer status = bed.Status();
        bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, 0), bed.Driver.Writable(512), status);
        bed.Driver.Kick();
        // Serving is observable without the interrupt: poll the used index (the device's release store).
        SpinWait.SpinUntil(() => bed.Driver.UsedIndex == 1, VirtqueueDriver.PatienceMilliseconds);
        Assert.That(bed.Driver.UsedIndex, Is.EqualTo(1));
        Assert.That(bed.Transport.Signals(0), Is.Zero);
    }

    [Test]
    public void Serving_a_batch_allocates_nothing_once_warm()
    {
        using var bed = new BlockTestBed(activate: false, queueSize: 64);
        var requests = new BlockRequestQueue(bed.Memory, bed.Handle, bed.Device.Capacity, false, new byte[20], "block0",
            NullLogger.Instance, bed.Driver.CreateQueue(), bed.Transport);
        long allocated = 0;
        for (int round = 0; round < 3; round++)
        {
            bed.Arena.Reset();
            for (int i = 0; i < 8; i++)
            {
                bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, (ulong)i * 16), bed.Driver.Writable(2048), bed.Driver.Writable(2048), bed.Status());
                bed.Driver.Add(bed.Header(VirtioBlockRequestType.Out, 1024 + (ulong)i * 8), bed.Driver.Readable(new byte[4096]), bed.Status());
            }
            bed.Driver.Add(indirect: true, bed.Header(VirtioBlockRequestType.In, 0), bed.Driver.Writable(512), bed.Status());
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.GetId, 0), bed.Driver.Writable(20), bed.Status());
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.Flush, 0), bed.Status());
            bed.Driver.Publish();

            long before = GC.GetAllocatedBytesForCurrentThread();
            int served = requests.ServeAvailable();
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Assert.That(served, Is.EqualTo(19));
            while (bed.Driver.TryTakeUsed(out _))
            {
            }
        }
        Assert.That(allocated, Is.Zero, "bytes allocated serving the third batch");
    }

    [Test]
    public void A_request_published_without_a_notification_while_the_worker_polls_is_served()
    {
        using var bed = new BlockTestBed(activate: false);
        // A 1 ms window, fully open, on a clock that moves 1 µs per reading.
        var clock = new ScriptedClock(TimeSpan.FromMicroseconds(1));
        var window = new PollWindow(TimeSpan.FromMilliseconds(1), clock);
        for (int i = 0; i < 16; i++)
            window.Adjust(0, 1_000_000);
        var requests = new BlockRequestQueue(bed.Memory, bed.Handle, bed.Device.Capacity, false, new byte[20], "block0",
            NullLogger.Instance, bed.Driver.CreateQueue(), bed.Transport, window);
        DriverBuffer first = bed.Status(), second = bed.Status();
        bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, 0), bed.Driver.Writable(512), first);
        bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, 8), bed.Driver.Writable(512), second);
        // The first request is published and notified; the second is published (index 2) 10 µs into
        // the worker's poll after the first, and never notified.
        bed.Memory.WriteUInt16Release(bed.Driver.Available.Offset(2), 1);
        bed.Driver.Notifier.Signal();
        clock.Schedule(TimeSpan.FromMicroseconds(10), () => bed.Memory.WriteUInt16Release(bed.Driver.Available.Offset(2), 2));

        using var stop = new EventNotifier();
        var worker = new Thread(() => requests.Run(stop));
        worker.Start();
        SpinWait.SpinUntil(() => bed.Driver.UsedIndex == 2, VirtqueueDriver.PatienceMilliseconds);
        stop.Signal();
        worker.Join();

        Assert.That(bed.Driver.UsedIndex, Is.EqualTo(2), "the second request was served without a notification");
        Assert.That((bed.StatusOf(first), bed.StatusOf(second)), Is.EqualTo((VirtioBlockStatus.Ok, VirtioBlockStatus.Ok)));
    }

    [Test]
    public void A_chain_that_loops_is_reported_as_a_bad_driver()
    {
        using var bed = new BlockTestBed();
        bed.Driver.WriteRawDescriptor(60, new VringDescriptor(0x100000, 16, VringDescriptor.FlagNext, 61));
        bed.Driver.WriteRawDescriptor(61, new VringDescriptor(0x100000, 16, VringDescriptor.FlagNext, 60));
        bed.Driver.AddRawHead(60);
        bed.Driver.Kick();
        BadDriverException error = bed.Transport.WaitForBadDriver();
        Assert.That(error.Message, Does.Contain("block0 vq 0").And.Contain("loops"));
    }

    [Test]
    public void After_a_bad_chain_the_device_no_longer_touches_the_queue()
    {
        using var bed = new BlockTestBed();
        bed.Driver.AddRawHead(200); // beyond the queue size of 64
        bed.Driver.Kick();
        bed.Transport.WaitForBadDriver();
        bed.Driver.Add(bed.Header(VirtioBlockRequestType.Out, 0), bed.Driver.Readable(new byte[512]), bed.Status());
        bed.Driver.Kick();
        Assert.That(bed.Transport.Interrupt.Wait(timeoutMilliseconds: QuietMilliseconds), Is.False);
        Assert.That(bed.Driver.UsedIndex, Is.Zero);
        Assert.That(bed.ImageBytes(), Is.EqualTo(bed.Pattern));
    }

    [Test]
    public void After_a_reset_the_device_serves_nothing_until_activated_again()
    {
        using var bed = new BlockTestBed();
        bed.Device.Reset();
        DriverBuffer status = bed.Status();
        bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, 0), bed.Driver.Writable(512), status);
        bed.Driver.Kick();
        Assert.That(bed.Transport.Interrupt.Wait(timeoutMilliseconds: QuietMilliseconds), Is.False);
        Assert.That(bed.Driver.UsedIndex, Is.Zero);

        bed.Activate();
        bed.Driver.Kick();
        bed.Driver.WaitForUsed(bed.Transport);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
    }

    [Test]
    public void Reset_is_idempotent_and_harmless_before_any_activation()
    {
        using var bed = new BlockTestBed(activate: false);
        bed.Device.Reset();
        bed.Device.Reset();
        bed.Activate();
        bed.Device.Reset();
        bed.Device.Reset();
        Assert.That(bed.Transport.BadDrivers, Is.Empty);
    }

    [Test]
    public void Activating_with_the_request_queue_disabled_serves_nothing_and_reports_nothing()
    {
        using var bed = new BlockTestBed(activate: false);
        bed.Device.Activate(new VirtioActivation(bed.Features, [null], bed.Transport));
        bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, 0), bed.Driver.Writable(512), bed.Status());
        bed.Driver.Kick();
        Assert.That(bed.Transport.Interrupt.Wait(timeoutMilliseconds: QuietMilliseconds), Is.False);
        Assert.That((bed.Driver.UsedIndex, bed.Transport.BadDrivers.Count), Is.EqualTo((0, 0)));
    }
}
