using Lguest.Memory;
using Lguest.Pci;
using Lguest.Tests.Support;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Virtio;

public class VirtioPciTransportInterruptTests
{
    private FakeVirtioDevice _device = null!;
    private VirtioTestBed _bed = null!;

    [SetUp]
    public void SetUp()
    {
        _device = new FakeVirtioDevice(queueSizes: [256, 64]);
        _bed = new VirtioTestBed(_device);
    }

    [TearDown]
    public void TearDown() => _bed.Dispose();

    [Test]
    public void A_used_buffer_notification_sets_isr_bit_0_and_raises_intx()
    {
        _bed.BringUp();
        _device.Active!.Transport.SignalUsedBuffers(0);
        Assert.That(_bed.Line.IsAsserted, Is.True);
        Assert.That(_bed.Config(PciHeader.Status, 2) & (uint)PciStatus.Interrupt, Is.Not.Zero);
        Assert.That(_bed.ReadIsr(), Is.EqualTo(IsrQueue));
    }

    [Test]
    public void A_configuration_change_sets_isr_bit_1()
    {
        _bed.BringUp();
        _device.Active!.Transport.SignalConfigChange();
        Assert.That(_bed.ReadIsr(), Is.EqualTo(IsrConfig));
    }

    [Test]
    public void Reading_the_isr_clears_it_and_lowers_intx()
    {
        _bed.BringUp();
        _device.Active!.Transport.SignalUsedBuffers(1);
        _device.Active!.Transport.SignalConfigChange();
        Assert.That(_bed.ReadIsr(), Is.EqualTo(IsrQueue | IsrConfig));
        Assert.That(_bed.Line.IsAsserted, Is.False);
        Assert.That(_bed.ReadIsr(), Is.Zero);
    }

    [Test]
    public void Notifications_while_the_line_is_high_raise_it_once()
    {
        _bed.BringUp();
        _device.Active!.Transport.SignalUsedBuffers(0);
        _device.Active!.Transport.SignalUsedBuffers(1);
        Assert.That(_bed.Line.RisingEdges, Is.EqualTo(1));
    }

    [Test]
    public void A_wide_isr_read_needs_a_reset()
    {
        _ = _bed.Read(VirtioPciTransport.IsrOffset, 4);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void A_read_past_the_isr_byte_needs_a_reset()
    {
        _ = _bed.Read(VirtioPciTransport.IsrOffset + 1, 1);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Writing_the_isr_needs_a_reset()
    {
        _bed.Write(VirtioPciTransport.IsrOffset, 1, 0);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void A_reset_clears_the_isr_and_lowers_intx()
    {
        _bed.BringUp();
        _device.Active!.Transport.SignalUsedBuffers(0);
        _bed.SetStatus(VirtioDeviceStatus.None);
        Assert.That(_bed.Line.IsAsserted, Is.False);
        Assert.That(_bed.ReadIsr(), Is.Zero);
    }

    [Test]
    public void An_activation_from_before_a_reset_can_no_longer_interrupt()
    {
        _bed.BringUp();
        IVirtioTransport stale = _device.Active!.Transport;
        _bed.SetStatus(VirtioDeviceStatus.None);
        stale.SignalUsedBuffers(0);
        stale.SignalConfigChange();
        stale.ReportBadDriver(new BadDriverException("fake", "late"));
        Assert.That(_bed.Line.IsAsserted, Is.False);
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }

    [Test]
    public void A_notification_write_signals_the_queues_notifier()
    {
        _bed.BringUp();
        _bed.Notify(1);
        Assert.That(_bed.Transport.QueueNotifiers[1].IsSignalled, Is.True);
        Assert.That(_bed.Transport.QueueNotifiers[0].IsSignalled, Is.False);
        Assert.That(_device.Active!.Queues[1]!.Notifier.TryConsume(), Is.True);
    }

    [TestCase(0, 4, TestName = "A 4-byte notification needs a reset")]
    [TestCase(0, 1, TestName = "A 1-byte notification needs a reset")]
    [TestCase(2, 2, TestName = "A notification between slots needs a reset")]
    [TestCase(8, 2, TestName = "A notification for a queue that does not exist needs a reset")]
    [TestCase(0xffc, 2, TestName = "A notification at the end of the area needs a reset")]
    public void A_bad_notification_needs_a_reset(int offset, int width)
    {
        _bed.Write(VirtioPciTransport.NotifyOffset + offset, width, 0);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
        Assert.That(_bed.Transport.QueueNotifiers.Any(n => n.IsSignalled), Is.False);
    }

    [Test]
    public void Reading_the_notification_area_needs_a_reset()
    {
        _ = _bed.Read(VirtioPciTransport.NotifyOffset, 2);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void A_reset_drops_pending_notifications()
    {
        _bed.BringUp();
        _bed.Notify(0);
        _bed.SetStatus(VirtioDeviceStatus.None);
        Assert.That(_bed.Transport.QueueNotifiers[0].IsSignalled, Is.False);
    }

    [Test]
    public void Driver_ok_registers_a_notify_event_per_enabled_queue_at_its_slot()
    {
        Assert.That(_bed.Negotiate(), Is.True);
        _bed.SetUpQueue(1);
        _bed.AddStatus(VirtioDeviceStatus.DriverOk);

        FakeVirtualMachine.NotifyRegistration registration = _bed.Machine.NotifyEvents.Single();
        Assert.That(registration.Address, Is.EqualTo(new GuestAddress(_bed.BarAddress + 0x3004)));
        Assert.That(registration.Width, Is.EqualTo(2));
        Assert.That(registration.Notifier, Is.SameAs(_bed.Transport.QueueNotifiers[1]));
    }

    [Test]
    public void No_notify_event_is_registered_before_driver_ok()
    {
        Assert.That(_bed.Negotiate(), Is.True);
        _bed.SetUpQueue(0);
        Assert.That(_bed.Machine.NotifyEvents, Is.Empty);
    }

    [Test]
    public void Moving_the_bar_moves_the_notify_events()
    {
        _bed.BringUp();
        const ulong moved = 0x180000;
        _bed.SetConfig(PciHeader.BaseAddress0, 4, (uint)moved);
        Assert.That(_bed.Machine.NotifyEvents.Select(r => r.Address.Value), Is.EquivalentTo(new[] { moved + 0x3000, moved + 0x3004 }));
        _bed.Notify(0);
        Assert.That(_bed.Transport.QueueNotifiers[0].IsSignalled, Is.True);
    }

    [Test]
    public void Turning_memory_decoding_off_drops_the_notify_events_and_on_restores_them()
    {
        _bed.BringUp();
        _bed.SetConfig(PciHeader.Command, 2, 0);
        Assert.That(_bed.Machine.NotifyEvents, Is.Empty);
        _bed.SetConfig(PciHeader.Command, 2, (uint)PciCommand.MemorySpace);
        Assert.That(_bed.Machine.NotifyEvents, Has.Count.EqualTo(2));
    }

    [Test]
    public void A_reset_drops_the_notify_events()
    {
        _bed.BringUp();
        _bed.SetStatus(VirtioDeviceStatus.None);
        Assert.That(_bed.Machine.NotifyEvents, Is.Empty);
    }

    [Test]
    public void Without_notify_events_from_the_backend_notifications_still_arrive_through_the_bus()
    {
        using var bed = new VirtioTestBed(new FakeVirtioDevice(), acceptsNotifyEvents: false);
        bed.BringUp();
        Assert.That(bed.Machine.NotifyEvents, Is.Empty);
        bed.Notify(0);
        Assert.That(bed.Transport.QueueNotifiers[0].IsSignalled, Is.True);
    }

    [Test]
    public void Under_a_racing_worker_and_driver_the_line_is_high_exactly_when_the_isr_has_something()
    {
        _bed.BringUp();
        IVirtioTransport transport = _device.Active!.Transport;
        for (int round = 0; round < 200; round++)
        {
            var worker = new Thread(() =>
            {
                for (int i = 0; i < 200; i++)
                    transport.SignalUsedBuffers(0);
            });
            worker.Start();
            while (worker.IsAlive)
                _ = _bed.ReadIsr();
            worker.Join();

            bool high = _bed.Line.IsAsserted;
            byte isr = _bed.ReadIsr();
            Assert.That(high, Is.EqualTo(isr != 0), $"round {round}: line {(high ? "high" : "low")} with ISR {isr}");
            Assert.That(_bed.Line.IsAsserted, Is.False);
        }
    }
}
