using Lguest.Hypervisor;
using Lguest.Kvm;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.Kvm;

/// <summary>MSI routes on this host's KVM: GSIs, the routing table KVM accepts, and a message reaching a local APIC.</summary>
[Category("Kvm")]
public class KvmMsiRouteTests
{
    private const ulong Apic = 0xfee0_0000;

    private KvmHypervisor _kvm = null!;
    private GuestMemory _memory = null!;
    private KvmVirtualMachine _vm = null!;

    private void CreateVm(bool irqchip = true)
    {
        _kvm = KvmHost.OpenOrIgnore(irqchip);
        _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(4 << 20));
        _vm = (KvmVirtualMachine)_kvm.CreateVirtualMachine(_memory, new IoBus("pio"), new IoBus("mmio"));
    }

    [TearDown]
    public void TearDown()
    {
        _vm?.Dispose();
        _memory?.Dispose();
        _kvm?.Dispose();
    }

    private KvmMsiRoute NewRoute()
    {
        Assert.That(_vm.TryCreateMsiRoute(out IMsiRoute? route), Is.True);
        return (KvmMsiRoute)route!;
    }

    [Test]
    public void Routes_take_the_gsis_above_the_pc_routing_and_a_freed_one_is_reused()
    {
        CreateVm();
        KvmMsiRoute a = NewRoute(), b = NewRoute();
        Assert.That((a.Gsi, b.Gsi), Is.EqualTo((24u, 25u)));
        a.Dispose();
        using KvmMsiRoute c = NewRoute();
        Assert.That(c.Gsi, Is.EqualTo(24u));
        b.Dispose();
    }

    [Test]
    public void A_programmed_route_joins_the_pc_entries_in_the_table_kvm_accepts_and_leaves_it_when_disposed()
    {
        CreateVm();
        int pc = KvmVirtualMachine.PcInterruptRouting().Length;
        KvmMsiRoute route = NewRoute();
        Assert.That(_vm.RoutingTable(), Has.Length.EqualTo(pc), "nothing to route before the guest programs a message");
        Assert.That(route.IsBound, Is.False);

        route.Update(Apic | 0x1000, 0x4041);
        KvmIrqRoutingEntry[] table = _vm.RoutingTable();
        Assert.That(table, Has.Length.EqualTo(pc + 1));
        KvmIrqRoutingEntry msi = table[^1];
        Assert.That((msi.Gsi, msi.Type, msi.AddressLo, msi.AddressHi, msi.Data), Is.EqualTo((route.Gsi, KvmIoctl.IrqRoutingMsi, 0xfee0_1000u, 0u, 0x4041u)));
        Assert.That(table.Take(pc), Is.EqualTo(KvmVirtualMachine.PcInterruptRouting()), "the PC entries survive the rewrite");
        Assert.That(route.IsBound, Is.True);

        route.Update(Apic, 0x42);
        Assert.That(_vm.ProgrammedMsiRoutes(), Is.EqualTo(new[] { (route.Gsi, Apic, 0x42u) }));

        route.Dispose();
        Assert.That(_vm.RoutingTable(), Has.Length.EqualTo(pc));
        Assert.That(_vm.ProgrammedMsiRoutes(), Is.Empty);
    }

    [Test]
    public void A_vm_without_an_in_kernel_interrupt_controller_has_no_routes()
    {
        CreateVm(irqchip: false);
        Assert.That(_vm.TryCreateMsiRoute(out IMsiRoute? route), Is.False);
        Assert.That(route, Is.Null);
    }

    [Test]
    public void A_signal_sets_the_vector_in_the_local_apic_request_register_without_running_the_vcpu()
    {
        CreateVm();
        using var vcpu = (KvmVcpu)_vm.CreateVcpu(0, null);
        KvmLapicState lapic = vcpu.GetLocalApic();
        unsafe
        {
            // Safety: 0xF0 (the spurious-interrupt vector register) is inside the 1 KiB page.
            *(uint*)(lapic.Regs + 0xf0) |= 0x100; // APIC software enable
        }
        vcpu.SetLocalApic(lapic);

        const int vector = 0x45;
        using KvmMsiRoute route = NewRoute();
        route.Update(Apic, vector); // destination APIC 0, fixed delivery, edge
        Assert.That(Irr(vcpu, vector), Is.False);
        route.Signal();
        Assert.That(Irr(vcpu, vector), Is.True);
    }

    private static unsafe bool Irr(KvmVcpu vcpu, int vector)
    {
        KvmLapicState lapic = vcpu.GetLocalApic();
        // Safety: the IRR is eight 32-bit registers at 0x200, 16 bytes apart, inside the page.
        uint word = *(uint*)(lapic.Regs + 0x200 + (vector / 32) * 0x10);
        return (word & (1u << (vector % 32))) != 0;
    }
}
