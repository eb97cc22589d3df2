using Lguest.DevLguest;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.DevLguest;

public class LguestVirtualMachineTests
{
    private static BootState Boot(uint entry = LguestTestBed.Entry, ulong bootInfo = 0, BootCpuMode mode = BootCpuMode.Linux32) =>
        new(mode, new GuestAddress(entry), new GuestAddress(bootInfo));

    [Test]
    public void Creating_vcpu_0_initializes_the_guest_with_base_pfnlimit_start_and_device_limit()
    {
        using var bed = new LguestTestBed();
        Assert.That(bed.Host.Initialized, Is.Null, "nothing is sent before the vCPU exists");
        bed.Boot();

        ulong hostBase = (ulong)bed.Memory.HostAddressOf(bed.Memory.Layout.Regions[0]);
        Assert.That(bed.Host.Initialized, Is.EqualTo((
            Base: (uint)hostBase,
            PfnLimit: (uint)(LguestTestBed.RamSize / 4096),                 // 4096 pages of RAM
            Start: LguestTestBed.Entry,
            DeviceLimit: (uint)((LguestTestBed.RamSize + 256 * 4096) / 4096)))); // RAM plus the 256 device pages
        Assert.That(bed.Host.Requests, Has.Count.EqualTo(1));
        Assert.That(bed.Host.Requests[0], Has.Length.EqualTo(20), "LHREQ_INITIALIZE and four i386 words");
    }

    [Test]
    public void The_lguest_layout_puts_256_device_pages_right_above_ram()
    {
        GuestMemoryLayout layout = LguestHypervisor.CreateLayout(LguestTestBed.RamSize);
        Assert.That(layout.Regions.Single().Start, Is.EqualTo(GuestAddress.Zero));
        Assert.That(layout.MmioWindow.Start.Value, Is.EqualTo(LguestTestBed.RamSize));
        Assert.That(layout.MmioWindow.Size, Is.EqualTo(256 * 4096));
    }

    [Test]
    public void A_second_vcpu_is_refused()
    {
        using var bed = new LguestTestBed();
        Assert.That(() => bed.Machine.CreateVcpu(1, null), Throws.TypeOf<HypervisorException>().With.Message.Contains("one vCPU"));
    }

    [Test]
    public void Vcpu_0_cannot_be_created_twice()
    {
        using var bed = new LguestTestBed();
        bed.Boot();
        Assert.That(() => bed.Machine.CreateVcpu(0, Boot()), Throws.TypeOf<HypervisorException>().With.Message.Contains("once"));
    }

    [TestCase(BootCpuMode.Linux64)]
    [TestCase(BootCpuMode.Pvh)]
    public void A_boot_mode_other_than_the_32_bit_entry_is_refused(BootCpuMode mode)
    {
        using var bed = new LguestTestBed();
        Assert.That(() => bed.Machine.CreateVcpu(0, Boot(mode: mode)), Throws.TypeOf<HypervisorException>().With.Message.Contains("32-bit entry"));
        Assert.That(bed.Host.Initialized, Is.Null);
    }

    [Test]
    public void Boot_parameters_anywhere_but_address_0_are_refused()
    {
        using var bed = new LguestTestBed();
        Assert.That(() => bed.Machine.CreateVcpu(0, Boot(bootInfo: 0x7000)), Throws.TypeOf<HypervisorException>().With.Message.Contains("ESI = 0"));
    }

    [Test]
    public void An_entry_point_outside_ram_is_refused()
    {
        using var bed = new LguestTestBed();
        Assert.That(() => bed.Machine.CreateVcpu(0, Boot(entry: LguestTestBed.WindowStart)), Throws.TypeOf<HypervisorException>().With.Message.Contains("outside guest RAM"));
    }

    [Test]
    public void A_device_window_away_from_the_top_of_ram_is_refused()
    {
        Assert.That(() => new LguestTestBed(layout: GuestMemoryLayout.WithMmioHole(16 << 20)),
            Throws.TypeOf<HypervisorException>().With.Message.Contains("right above RAM"));
    }

    [Test]
    public void Guest_memory_mapped_above_4_GiB_of_the_host_is_refused_because_the_i386_abi_cannot_name_it()
    {
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        Assume.That((ulong)memory.HostAddressOf(memory.Layout.Regions[0]), Is.GreaterThan((ulong)uint.MaxValue),
            "this process mapped guest memory low; the refusal needs a high mapping");
        var host = new LguestHostSimulator();
        using var hypervisor = new LguestHypervisor(() => host);
        Assert.That(() => hypervisor.CreateVirtualMachine(memory, new IoBus("pio"), new IoBus("mmio")),
            Throws.TypeOf<HypervisorException>().With.Message.Contains("32-bit"));
        Assert.That(host.Disposed, Is.True, "the device opened for the refused machine is closed");
    }

    [Test]
    public void Each_machine_opens_the_device_anew_for_a_reboot()
    {
        int opened = 0;
        using var hypervisor = new LguestHypervisor(() => { opened++; return new LguestHostSimulator(); });
        using GuestMemory memory = GuestMemory.AllocateBelow2GiB(GuestMemoryLayout.Flat(1 << 20));
        hypervisor.CreateVirtualMachine(memory, new IoBus("pio"), new IoBus("mmio")).Dispose();
        hypervisor.CreateVirtualMachine(memory, new IoBus("pio"), new IoBus("mmio")).Dispose();
        Assert.That(opened, Is.EqualTo(2));
    }

    [Test]
    public void Disposing_the_machine_closes_the_device()
    {
        var bed = new LguestTestBed();
        bed.Dispose();
        Assert.That(bed.Host.Disposed, Is.True);
    }

    [Test]
    public void Notify_events_are_refused_so_notifications_reach_the_mmio_bus()
    {
        using var bed = new LguestTestBed();
        using var notifier = new EventNotifier();
        Assert.That(bed.Machine.TryRegisterNotifyEvent(new GuestAddress(LguestTestBed.WindowStart), 2, notifier, out IDisposable? registration), Is.False);
        Assert.That(registration, Is.Null);
    }

    [Test]
    public void A_pulse_sends_lhreq_irq_with_the_line_number()
    {
        using var bed = new LguestTestBed();
        bed.Boot();
        bed.Machine.GetInterruptLine(9).Pulse();
        Assert.That(bed.Host.Irqs, Is.EqualTo(new[] { 9u }));
        Assert.That(bed.Host.Requests[^1], Is.EqualTo(new byte[] { 2, 0, 0, 0, 9, 0, 0, 0 }));
    }

    [Test]
    public void An_assertion_raises_the_interrupt_once()
    {
        using var bed = new LguestTestBed();
        bed.Boot();
        bed.Machine.GetInterruptLine(5).Assert();
        Assert.That(bed.Host.Irqs, Is.EqualTo(new[] { 5u }));
    }

    [Test]
    public void A_deassertion_sends_nothing_because_lguest_interrupts_are_edges()
    {
        using var bed = new LguestTestBed();
        bed.Boot();
        int before = bed.Host.Requests.Count;
        bed.Machine.GetInterruptLine(5).Deassert();
        Assert.That(bed.Host.Requests, Has.Count.EqualTo(before));
    }

    [Test]
    public void Interrupt_numbers_beyond_lguest_irqs_are_refused()
    {
        using var bed = new LguestTestBed();
        Assert.That(() => bed.Machine.GetInterruptLine(224), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => bed.Machine.GetInterruptLine(-1), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(bed.Machine.GetInterruptLine(223).Number, Is.EqualTo(223));
    }

    [Test]
    public void The_same_line_object_serves_every_request_for_a_number()
    {
        using var bed = new LguestTestBed();
        IInterruptLine first = bed.Machine.GetInterruptLine(11);
        Assert.That(bed.Machine.GetInterruptLine(11), Is.SameAs(first));
    }

    [Test]
    public void An_interrupt_for_a_dead_guest_is_dropped_quietly()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator().Die("killed"));
        Assert.That(bed.Step().Reason, Is.EqualTo(VcpuExitReason.Failed));
        Assert.That(() => bed.Machine.GetInterruptLine(5).Pulse(), Throws.Nothing);
        Assert.That(bed.Host.Irqs, Is.Empty);
    }
}
