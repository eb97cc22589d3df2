using Lguest.Memory;
using Lguest.Snapshot;
using Lguest.Tests.Support;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Virtio;

/// <summary>
/// The transport and queue record of a snapshot: a driver's set-up and the device's place in each ring move to a fresh
/// transport over a copy of guest memory, which activates the device again on rings rewound to their used index.
/// </summary>
public class VirtioPciTransportSnapshotTests
{
    private const ulong Features = VirtioFeatures.Version1 | VirtioFeatures.RingEventIndex;

    [Test]
    public void A_restored_transport_reads_as_the_driver_left_it_and_serves_the_same_rings()
    {
        var device = new FakeVirtioDevice(features: Features, queueSizes: [16, 8]) { State = [1, 2, 3] };
        using var bed = new VirtioTestBed(device);
        VirtqueueDriver driver = Start(bed, Features, 16, 8)[0];
        bed.Write(QueueSelect, 2, 1);
        // Three chains offered: the device returns the first, holds the second (taken, not used) and never takes the third.
        ushort first = driver.Add(driver.Writable(8));
        ushort held = driver.Add(driver.Writable(8));
        ushort untouched = driver.Add(driver.Writable(8));
        driver.Publish();
        Vring ring = device.Active!.Queues[0]!.Ring;
        var chain = new DescriptorChain();
        Assert.That(ring.TryPop(chain) && chain.Head == first);
        Assert.That(ring.TryPop(chain) && chain.Head == held);
        ring.Push(first, 8);
        _ = ring.NeedsInterrupt();

        VirtioTransportState state = VirtioTransportState.Decode(bed.Transport.CaptureState().Encode());
        Assert.That(state.Queues[0].Ring, Is.EqualTo(new VringPosition(2, 1, 1)));
        Assert.That(state.Queues[0].Ring!.Value.Held, Is.EqualTo(1));
        Assert.That(state.DeviceState.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));

        var copy = new FakeVirtioDevice(features: Features, queueSizes: [16, 8]);
        using var restored = CopyOf(bed, copy);
        restored.Transport.RestoreState(state);

        Assert.That(copy.State, Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(copy.ActivationsAtRestore, Is.Zero, "the device's state comes back before it is activated");
        Assert.That(copy.Activations, Has.Count.EqualTo(1));
        Assert.That(copy.Active!.Features, Is.EqualTo(Features));
        Assert.That(restored.Status, Is.EqualTo(bed.Status));
        Assert.That(restored.Read(QueueSelect, 2) & 0xffff, Is.EqualTo(1), "queue_select");
        foreach (int offset in new[] { QueueSize, QueueEnable })
            Assert.That(restored.Read(offset, 2) & 0xffff, Is.EqualTo(bed.Read(offset, 2) & 0xffff), $"offset {offset}");
        restored.Write(QueueSelect, 2, 0);
        Assert.That(restored.Read(QueueDesc, 8), Is.EqualTo(driver.Descriptors.Value));
        Assert.That(restored.Read(QueueDevice, 8), Is.EqualTo(driver.Used.Value));

        Vring again = copy.Active.Queues[0]!.Ring;
        Assert.That(again.TryPop(chain) && chain.Head == held, "the held chain is offered again");
        Assert.That(again.TryPop(chain) && chain.Head == untouched);
        Assert.That(again.TryPop(chain), Is.False);
    }

    [Test]
    public void Used_buffers_published_but_not_yet_signalled_are_signalled_on_restore()
    {
        var device = new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16]);
        using var bed = new VirtioTestBed(device);
        VirtqueueDriver driver = Start(bed, VirtioFeatures.Version1, 16)[0];
        driver.Add(driver.Writable(8));
        driver.Publish();
        Vring ring = device.Active!.Queues[0]!.Ring;
        Assert.That(ring.TryPop(out DescriptorChain chain));
        ring.Push(chain.Head, 0); // paused before NeedsInterrupt: the driver is owed an interrupt

        VirtioTransportState state = bed.Transport.CaptureState();
        using var restored = CopyOf(bed, new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16]));
        restored.Transport.RestoreState(state);
        Assert.That(restored.Line.IsAsserted, Is.True);
        Assert.That(restored.ReadIsr(), Is.EqualTo(IsrQueue));
    }

    [Test]
    public void A_device_in_device_needs_reset_stays_stopped_after_restore()
    {
        var device = new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16]);
        using var bed = new VirtioTestBed(device);
        bed.BringUp();
        bed.Write(NumQueues, 2, 3); // a read-only register: DEVICE_NEEDS_RESET
        Assert.That(bed.Transport.NeedsReset);

        var copy = new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16]);
        using var restored = CopyOf(bed, copy);
        restored.Transport.RestoreState(bed.Transport.CaptureState());
        Assert.That(restored.Transport.NeedsReset);
        Assert.That(copy.Activations, Is.Empty);
        Assert.That(restored.Status & VirtioDeviceStatus.DeviceNeedsReset, Is.EqualTo(VirtioDeviceStatus.DeviceNeedsReset));
    }

    [Test]
    public void A_device_the_driver_had_not_started_is_not_activated_and_the_driver_carries_on()
    {
        var device = new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16]);
        using var bed = new VirtioTestBed(device);
        Assert.That(bed.Negotiate());
        bed.SetUpQueue(0);

        var copy = new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16]);
        using var restored = CopyOf(bed, copy);
        restored.Transport.RestoreState(bed.Transport.CaptureState());
        Assert.That(copy.Activations, Is.Empty);
        restored.AddStatus(VirtioDeviceStatus.DriverOk);
        Assert.That(copy.Activations, Has.Count.EqualTo(1));
        Assert.That(restored.Transport.NeedsReset, Is.False);
    }

    [Test]
    public void A_snapshot_of_another_device_is_refused_with_what_differs()
    {
        var device = new FakeVirtioDevice(features: Features, queueSizes: [16, 8]);
        using var bed = new VirtioTestBed(device);
        bed.BringUp();
        VirtioTransportState state = bed.Transport.CaptureState();

        using (var fewer = CopyOf(bed, new FakeVirtioDevice(features: Features, queueSizes: [16])))
            Assert.That(() => fewer.Transport.RestoreState(state), Throws.TypeOf<SnapshotException>()
                .With.Message.EqualTo("the snapshot's fake has 2 queues; this device has 1").And.Property("Reason").EqualTo(SnapshotRefusal.Incompatible));
        using (var smaller = CopyOf(bed, new FakeVirtioDevice(features: Features, queueSizes: [8, 8])))
            Assert.That(() => smaller.Transport.RestoreState(state), Throws.TypeOf<SnapshotException>()
                .With.Message.EqualTo("fake: queue 0 had 16 entries; this device's holds at most 8"));
        using var plainer = CopyOf(bed, new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16, 8]));
        Assert.That(() => plainer.Transport.RestoreState(state), Throws.TypeOf<SnapshotException>()
            .With.Message.EqualTo("the snapshot's driver of fake accepted features 0x120000000 this device does not offer (0x100000000)"));
        Assert.That(plainer.Status, Is.EqualTo(VirtioDeviceStatus.None), "nothing was set");
    }

    [Test]
    public void A_ring_whose_used_index_is_not_where_the_state_says_is_refused()
    {
        var device = new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16]);
        using var bed = new VirtioTestBed(device);
        bed.BringUp();
        VirtioTransportState state = bed.Transport.CaptureState();
        var copy = new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16]);
        using var restored = CopyOf(bed, copy);
        restored.Machine.Memory.Write(new GuestAddress(VirtioTestBed.DeviceArea(0) + 2), (ushort)5);
        Assert.That(state.Queues[0].Device, Is.EqualTo(VirtioTestBed.DeviceArea(0)));
        Assert.That(() => restored.Transport.RestoreState(state), Throws.TypeOf<SnapshotException>()
            .With.Message.EqualTo("fake: queue 0's used index in guest memory is 5; the snapshot's state says 0"));
        Assert.That(copy.Active, Is.Null);
        Assert.That(restored.Status, Is.EqualTo(VirtioDeviceStatus.None));
    }

    [Test]
    public void A_restored_queue_placed_outside_guest_memory_is_refused()
    {
        var device = new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16]);
        using var bed = new VirtioTestBed(device);
        bed.BringUp();
        VirtioTransportState state = bed.Transport.CaptureState();
        VirtioQueueState q = state.Queues[0];
        state = state with { Queues = [q with { Device = 0xfff_f000 }] };
        using var restored = CopyOf(bed, new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16]));
        Assert.That(() => restored.Transport.RestoreState(state), Throws.TypeOf<SnapshotException>()
            .With.Property("Reason").EqualTo(SnapshotRefusal.Corrupt).And.Message.Contains("not all in guest memory"));
    }

    [Test]
    public void Only_a_fresh_transport_takes_a_snapshot()
    {
        var device = new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16]);
        using var bed = new VirtioTestBed(device);
        bed.BringUp();
        Assert.That(() => bed.Transport.RestoreState(bed.Transport.CaptureState()), Throws.InvalidOperationException);
    }

    [TestCase(0, 0x40, "a virtio transport's state: device_status 0x40 holds bits a driver cannot set", TestName = "A status with DEVICE_NEEDS_RESET's bit is refused")]
    [TestCase(0, 0x04, "a virtio transport's state: device_status 0x04 is not a state the driver's steps lead to", TestName = "DRIVER_OK without the steps before it is refused")]
    [TestCase(24, 0x04, "a virtio transport's state: the ISR byte 0x04 holds bits that are not defined", TestName = "An undefined ISR bit is refused")]
    public void A_record_a_driver_could_not_have_left_is_refused(int at, int value, string message)
    {
        var device = new FakeVirtioDevice(features: VirtioFeatures.Version1, queueSizes: [16]);
        using var bed = new VirtioTestBed(device);
        bed.BringUp();
        byte[] bytes = bed.Transport.CaptureState().Encode();
        bytes[at] = (byte)value;
        Assert.That(() => VirtioTransportState.Decode(bytes), Throws.TypeOf<SnapshotException>().With.Message.EqualTo(message));
        Assert.That(() => VirtioTransportState.Decode(bytes.AsMemory(0, bytes.Length - 1)), Throws.TypeOf<SnapshotException>()
            .With.Property("Reason").EqualTo(SnapshotRefusal.Truncated));
    }

    [Test]
    public void A_record_holding_more_chains_than_the_ring_has_is_refused()
    {
        var state = new VirtioTransportState(0x0f, 0, 0, VirtioFeatures.Version1, false, 0, false, NoVector, false, 0,
            [new VirtioQueueState(16, true, 0x10000, 0x12000, 0x13000, NoVector, new VringPosition(20, 0, 0))], Array.Empty<byte>());
        Assert.That(() => VirtioTransportState.Decode(state.Encode()), Throws.TypeOf<SnapshotException>()
            .With.Message.EqualTo("a virtio transport's state: queue 0: the device held 20 chains of a ring of 16"));
    }

    // The driver's bring-up with a test driver on each queue (its own ring layout), then DRIVER_OK.
    private static VirtqueueDriver[] Start(VirtioTestBed bed, ulong features, params int[] sizes)
    {
        Assert.That(bed.Negotiate(features));
        var arena = new GuestArena(new GuestAddress(0x80000), 0x10000);
        var drivers = new VirtqueueDriver[sizes.Length];
        for (int i = 0; i < sizes.Length; i++)
        {
            drivers[i] = new VirtqueueDriver(bed.Machine.Memory, i, sizes[i], features, new GuestAddress(VirtioTestBed.Descriptors(i)), arena);
            bed.SetUpQueue(i, (ushort)sizes[i], drivers[i].Descriptors.Value, drivers[i].Available.Value, drivers[i].Used.Value);
        }
        bed.AddStatus(VirtioDeviceStatus.DriverOk);
        return drivers;
    }

    // A second machine whose RAM is a copy of the first's, with a fresh transport in front of device.
    private static VirtioTestBed CopyOf(VirtioTestBed bed, FakeVirtioDevice device)
    {
        var copy = new VirtioTestBed(device);
        bed.Machine.Memory.GetSpan(new GuestAddress(0), 1 << 20).CopyTo(copy.Machine.Memory.GetSpan(new GuestAddress(0), 1 << 20));
        return copy;
    }
}
