using Lguest.Kvm;

namespace Lguest.Tests.Kvm;

public class VcpuCpuidTests
{
    private const uint TscDeadline = 1u << 24;

    // What KVM_GET_SUPPORTED_CPUID gives on an AMD host (the bed's L1): leaf 1 with the host CPU's own APIC ID (7)
    // and logical count in EBX and no TSC-deadline bit, a topology leaf, and KVM's signature leaf.
    private static readonly KvmCpuidEntry2[] Supported =
    [
        new() { Function = 0, Eax = 0xD, Ebx = 0x6874_7541 },
        new() { Function = 1, Eax = 0x0006_0FB1, Ebx = 0x0702_0800, Ecx = 0x8080_3209, Edx = 0x0789_FBFF },
        new() { Function = 0xB, Index = 1, Eax = 1, Ebx = 2, Ecx = 0x201, Edx = 7 },
        new() { Function = 0x4000_0000, Eax = 0x4000_0001, Ebx = 0x4B4D_564B, Ecx = 0x564B_4D56, Edx = 0x4D },
    ];

    private static KvmCpuidEntry2 Leaf(KvmCpuidEntry2[] table, uint function) => table.Single(e => e.Function == function);

    [Test]
    public void The_TSC_deadline_timer_is_offered_when_the_in_kernel_local_APIC_has_one()
    {
        // Without it Linux calibrates the APIC timer against the PIT, which fails in a nested VM: every CPU's tick then
        // comes from the PIT by IPI broadcast, the path 4-vCPU guests hung on in the bed.
        KvmCpuidEntry2[] table = VcpuCpuid.Build(Supported, CpuTemplate.Default, apicId: 2, tscDeadline: true);
        Assert.That(Leaf(table, 1).Ecx & TscDeadline, Is.EqualTo(TscDeadline));
    }

    [Test]
    public void A_snapshot_of_a_guest_given_the_bit_restores_on_a_host_whose_supported_set_lacks_it()
    {
        // KVM_GET_SUPPORTED_CPUID never lists it: the launcher's own bit, like the hypervisor bit.
        KvmCpuidEntry2[] table = VcpuCpuid.Build(Supported, CpuTemplate.Default, apicId: 1, tscDeadline: true);
        Assert.That(() => KvmCpuidCompatibility.Check(table, Supported), Throws.Nothing);
    }

    [Test]
    public void Without_the_in_kernel_timer_the_bit_stays_as_the_host_reports_it()
    {
        KvmCpuidEntry2[] table = VcpuCpuid.Build(Supported, CpuTemplate.Default, apicId: 0, tscDeadline: false);
        Assert.That(Leaf(table, 1).Ecx & TscDeadline, Is.Zero);
    }

    [Test]
    public void A_template_that_clears_the_bit_wins()
    {
        CpuTemplate template = CpuTemplate.Default.Clear(1, CpuidRegister.Ecx, VcpuCpuid.Leaf1EcxTscDeadline);
        KvmCpuidEntry2[] table = VcpuCpuid.Build(Supported, template, apicId: 0, tscDeadline: true);
        Assert.That(Leaf(table, 1).Ecx & TscDeadline, Is.Zero);
    }

    [Test]
    public void Each_vCPU_has_its_own_APIC_ID_in_leaf_1_and_the_x2APIC_leaf_and_the_rest_of_leaf_1_is_the_host_s()
    {
        KvmCpuidEntry2[] table = VcpuCpuid.Build(Supported, CpuTemplate.Default, apicId: 3, tscDeadline: true);
        Assert.Multiple(() =>
        {
            Assert.That(Leaf(table, 1).Ebx, Is.EqualTo(0x0302_0800u));
            Assert.That(Leaf(table, 0xB).Edx, Is.EqualTo(3u));
            Assert.That(Leaf(table, 1).Ecx, Is.EqualTo(0x8080_3209u | TscDeadline | (1u << 31)));
            Assert.That(Leaf(table, 1).Edx, Is.EqualTo(0x0789_FBFFu));
        });
    }

    [Test]
    public void KVM_s_signature_leaf_is_added_when_the_host_lists_none()
    {
        KvmCpuidEntry2[] table = VcpuCpuid.Build(Supported.Where(e => e.Function != 0x4000_0000).ToArray(), CpuTemplate.Default, 0, true);
        KvmCpuidEntry2 signature = Leaf(table, 0x4000_0000);
        Assert.That((signature.Ebx, signature.Ecx, signature.Edx), Is.EqualTo((0x4B4D_564Bu, 0x564B_4D56u, 0x4Du)));
    }

    [Test]
    public void An_APIC_ID_leaf_1_cannot_hold_is_refused()
    {
        Assert.That(() => VcpuCpuid.Build(Supported, CpuTemplate.Default, 256, true), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
