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
}
