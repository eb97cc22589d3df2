using Lguest.Kvm;

namespace Lguest.Tests.Kvm;

public class CpuTemplateTests
{
    [Test]
    public void The_default_template_sets_the_hypervisor_bit()
    {
        Assert.That(CpuTemplate.Default.Apply(1, CpuidRegister.Ecx, 0), Is.EqualTo(1u << 31));
    }

    [Test]
    public void The_instruction_emulator_template_hides_xsave_avx_and_cmpxchg16b()
    {
        uint ecx = CpuTemplate.InstructionEmulator.Apply(1, CpuidRegister.Ecx, uint.MaxValue);
        Assert.That(ecx & ((1u << 26) | (1u << 27) | (1u << 28) | (1u << 13)), Is.Zero);
        Assert.That(CpuTemplate.InstructionEmulator.RemovesXsaveLeaf, Is.True);
    }

    [Test]
    public void Edits_touch_only_their_leaf_and_register()
    {
        CpuTemplate template = new CpuTemplate().WithoutX2Apic();
        Assert.That(template.Apply(1, CpuidRegister.Ecx, uint.MaxValue), Is.EqualTo(~(1u << 21)));
        Assert.That(template.Apply(1, CpuidRegister.Edx, uint.MaxValue), Is.EqualTo(uint.MaxValue));
        Assert.That(template.Apply(7, CpuidRegister.Ecx, uint.MaxValue), Is.EqualTo(uint.MaxValue));
    }

    [Test]
    public void A_bit_beyond_31_is_refused()
    {
        Assert.That(() => new CpuTemplate().Set(1, CpuidRegister.Eax, 32), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    [Category("Kvm")]
    public void Each_vCPU_gets_its_own_APIC_ID_in_leaf_1()
    {
        using KvmHypervisor kvm = Support.KvmHost.OpenOrIgnore();
        using var memory = Lguest.Memory.GuestMemory.Allocate(Lguest.Memory.GuestMemoryLayout.Flat(1 << 20));
        using var vm = kvm.CreateVirtualMachine(memory, new Lguest.Hypervisor.IoBus("pio"), new Lguest.Hypervisor.IoBus("mmio"));
        using var vcpu1 = (KvmVcpu)vm.CreateVcpu(1, null);
        KvmCpuidEntry2 leaf1 = vcpu1.BuildCpuid().Single(e => e.Function == 1);
        Assert.That(leaf1.Ebx >> 24, Is.EqualTo(1u));
        Assert.That(vcpu1.BuildCpuid().Any(e => e.Function == 0x4000_0000), Is.True);
    }

    [Test]
    [Category("Kvm")]
    public void With_the_local_APIC_in_the_kernel_leaf_1_offers_the_TSC_deadline_timer_unless_the_template_clears_it()
    {
        using KvmHypervisor kvm = Support.KvmHost.OpenOrIgnore();
        using KvmHypervisor masked = KvmHypervisor.Open(new KvmHypervisorOptions { CpuTemplate = CpuTemplate.Default.Clear(1, CpuidRegister.Ecx, CpuTemplate.Leaf1EcxTscDeadline) });
        if (kvm.CheckExtension(KvmIoctl.CapTscDeadlineTimer) <= 0)
            Assert.Ignore("this host's KVM lacks KVM_CAP_TSC_DEADLINE_TIMER");

        Assert.That(Leaf1Ecx(kvm) >> CpuTemplate.Leaf1EcxTscDeadline & 1, Is.EqualTo(1u), "offered");
        Assert.That(Leaf1Ecx(masked) >> CpuTemplate.Leaf1EcxTscDeadline & 1, Is.Zero, "cleared by the template");
    }

    private static uint Leaf1Ecx(KvmHypervisor kvm)
    {
        using var memory = Lguest.Memory.GuestMemory.Allocate(Lguest.Memory.GuestMemoryLayout.Flat(1 << 20));
        using var vm = kvm.CreateVirtualMachine(memory, new Lguest.Hypervisor.IoBus("pio"), new Lguest.Hypervisor.IoBus("mmio"));
        using var vcpu = (KvmVcpu)vm.CreateVcpu(0, null);
        return vcpu.BuildCpuid().Single(e => e.Function == 1).Ecx;
    }
}
