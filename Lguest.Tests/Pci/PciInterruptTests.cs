using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Tests.Support;

namespace Lguest.Tests.Pci;

public class PciInterruptTests
{
    private FakeVirtualMachine _machine = null!;
    private PciBus _bus = null!;

    [SetUp]
    public void SetUp()
    {
        _machine = new FakeVirtualMachine(GuestMemoryLayout.WithMmioHole(16 << 20));
        _bus = new PciBus(_machine, new IoBus("mmio"));
    }

    [TearDown]
    public void TearDown() => _machine.Dispose();

    [Test]
    public void Slots_are_routed_to_the_legacy_irqs_in_turn_and_firmware_writes_the_interrupt_line()
    {
        var devices = Enumerable.Range(1, 5).Select(i => new TestPciDevice($"d{i}")).ToArray();
        foreach (TestPciDevice d in devices)
            _bus.Add(d);

        Assert.That(devices.Select(d => (int)PciConfigCycles.Read(_bus.HostBridge, d.DeviceNumber, PciHeader.InterruptLine, 1)),
            Is.EqualTo(new[] { 5, 9, 10, 11, 5 }));
        Assert.That(_bus.InterruptRoutes, Is.EqualTo(new[]
        {
            new PciInterruptRoute(1, 1, 5), new PciInterruptRoute(2, 1, 9), new PciInterruptRoute(3, 1, 10),
            new PciInterruptRoute(4, 1, 11), new PciInterruptRoute(5, 1, 5),
        }));
    }

    [Test]
    public void The_interrupt_lines_can_be_chosen_by_the_backend()
    {
        var bus = new PciBus(_machine, new IoBus("mmio"), new PciBusOptions { InterruptLines = [1, 2] });
        bus.Add(new TestPciDevice());
        bus.Add(new TestPciDevice());
        Assert.That(bus.InterruptRoutes.Select(r => r.Gsi), Is.EqualTo(new[] { 1, 2 }));
    }

    [Test]
    public void Interrupt_lines_that_do_not_fit_the_register_are_refused()
    {
        Assert.That(() => new PciBus(_machine, new IoBus("mmio"), new PciBusOptions { InterruptLines = [255] }), Throws.ArgumentException);
        Assert.That(() => new PciBus(_machine, new IoBus("mmio"), new PciBusOptions { InterruptLines = [] }), Throws.ArgumentException);
    }

    [Test]
    public void Asserting_intx_raises_the_line_and_shows_in_the_status_register()
    {
        var device = new TestPciDevice();
        _bus.Add(device);
        device.Interrupt(true);
        Assert.That(_machine.Line(5).IsAsserted, Is.True);
        Assert.That(PciConfigCycles.Read(_bus.HostBridge, 1, PciHeader.Status, 2) & (uint)PciStatus.Interrupt, Is.Not.Zero);

        device.Interrupt(false);
        Assert.That(_machine.Line(5).IsAsserted, Is.False);
        Assert.That(PciConfigCycles.Read(_bus.HostBridge, 1, PciHeader.Status, 2) & (uint)PciStatus.Interrupt, Is.Zero);
    }

    [Test]
    public void Intx_disable_keeps_the_line_low_but_the_status_bit_still_shows_the_level()
    {
        var device = new TestPciDevice();
        _bus.Add(device);
        PciConfigCycles.Write(_bus.HostBridge, 1, PciHeader.Command, 2, (uint)(PciCommand.MemorySpace | PciCommand.InterruptDisable));

        device.Interrupt(true);

        Assert.That(_machine.Line(5).IsAsserted, Is.False);
        Assert.That(PciConfigCycles.Read(_bus.HostBridge, 1, PciHeader.Status, 2) & (uint)PciStatus.Interrupt, Is.Not.Zero);
    }

    [Test]
    public void Clearing_intx_disable_while_the_device_wants_service_raises_the_line()
    {
        var device = new TestPciDevice();
        _bus.Add(device);
        PciConfigCycles.Write(_bus.HostBridge, 1, PciHeader.Command, 2, (uint)(PciCommand.MemorySpace | PciCommand.InterruptDisable));
        device.Interrupt(true);

        PciConfigCycles.Write(_bus.HostBridge, 1, PciHeader.Command, 2, (uint)PciCommand.MemorySpace);

        Assert.That(_machine.Line(5).IsAsserted, Is.True);
    }

    [Test]
    public void Setting_intx_disable_while_asserted_lowers_the_line()
    {
        var device = new TestPciDevice();
        _bus.Add(device);
        device.Interrupt(true);
        PciConfigCycles.Write(_bus.HostBridge, 1, PciHeader.Command, 2, (uint)(PciCommand.MemorySpace | PciCommand.InterruptDisable));
        Assert.That(_machine.Line(5).IsAsserted, Is.False);
    }

    [Test]
    public void A_shared_line_stays_high_until_every_device_on_it_lowers_its_pin()
    {
        var devices = Enumerable.Range(1, 5).Select(i => new TestPciDevice($"d{i}")).ToArray();
        foreach (TestPciDevice d in devices)
            _bus.Add(d);
        TestPciDevice first = devices[0], fifth = devices[4]; // both on GSI 5

        first.Interrupt(true);
        fifth.Interrupt(true);
        first.Interrupt(false);
        Assert.That(_machine.Line(5).IsAsserted, Is.True);

        fifth.Interrupt(false);
        Assert.That(_machine.Line(5).IsAsserted, Is.False);
        Assert.That(_machine.Line(5).RisingEdges, Is.EqualTo(1));
    }
}
