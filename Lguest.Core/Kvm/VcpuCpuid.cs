namespace Lguest.Kvm;

/// <summary>
/// The CPUID table one vCPU gets: the host's supported set (KVM_GET_SUPPORTED_CPUID), edited by the template, with
/// the vCPU's own APIC ID, KVM's signature leaf, and the features KVM emulates but does not report as supported.
/// Pure: no fd, so the table is checked without a KVM.
/// </summary>
internal static class VcpuCpuid
{
    /// <summary>CPUID.1:ECX[24], TSC-deadline mode of the local APIC timer (SDM Vol. 3A §11.5.4.1).</summary>
    public const int Leaf1EcxTscDeadline = 24;

    /// <summary>The hypervisor CPUID range's base and KVM's signature in it ("KVMKVMKVM\0\0\0", api.rst §CPUID).</summary>
    public const uint HypervisorLeaf = 0x4000_0000;
    private const uint KvmSignatureEbx = 0x4B4D_564B, KvmSignatureEcx = 0x564B_4D56, KvmSignatureEdx = 0x4D;

    /// <summary>Builds the table for the vCPU whose APIC ID is <paramref name="apicId"/>.</summary>
    /// <param name="supported">What KVM supports on this host.</param>
    /// <param name="template">The edits every vCPU gets.</param>
    /// <param name="apicId">The vCPU's index, which is its APIC ID (the MADT says the same).</param>
    /// <param name="tscDeadline">
    /// The VM has the in-kernel local APIC and KVM_CAP_TSC_DEADLINE_TIMER. Without the bit Linux calibrates the APIC
    /// timer against the PIT at boot; in a nested VM that calibration fails its own check ("APIC timer disabled due
    /// to verification failure"), the local APIC timer is declared not functional, and every CPU's tick then comes
    /// from the PIT on one CPU, passed on to the others by IPI (periodic broadcast, no one-shot timers, no NOHZ):
    /// the fragile, exit-heavy path SMP guests hung on in the nested bed. QEMU and Firecracker set the bit the same
    /// way.
    /// </param>
    public static KvmCpuidEntry2[] Build(ReadOnlySpan<KvmCpuidEntry2> supported, CpuTemplate template, int apicId, bool tscDeadline)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentOutOfRangeException.ThrowIfNegative(apicId);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(apicId, 0xFF); // an xAPIC ID is 8 bits, as leaf 1 carries it
        var entries = new List<KvmCpuidEntry2>(supported.Length + 1);
        bool hasHypervisorLeaf = false;
        foreach (KvmCpuidEntry2 host in supported)
        {
            KvmCpuidEntry2 entry = host;
            if (entry.Function == 0xD && template.RemovesXsaveLeaf)
                continue;
            switch (entry.Function)
            {
                case 1:
                    // EBX[31:24]: initial APIC ID.
                    entry.Ebx = (entry.Ebx & 0x00FF_FFFF) | ((uint)apicId << 24);
                    if (tscDeadline)
                        entry.Ecx |= 1u << Leaf1EcxTscDeadline;
                    break;
                case 0xB or 0x1F:
                    // EDX: the x2APIC ID, in every sub-leaf.
                    entry.Edx = (uint)apicId;
                    break;
                case HypervisorLeaf:
                    hasHypervisorLeaf = true;
                    break;
            }
            // The template last: an edit it makes (a bit it clears) holds over the defaults above.
            entry.Eax = template.Apply(entry.Function, CpuidRegister.Eax, entry.Eax);
            entry.Ebx = template.Apply(entry.Function, CpuidRegister.Ebx, entry.Ebx);
            entry.Ecx = template.Apply(entry.Function, CpuidRegister.Ecx, entry.Ecx);
            entry.Edx = template.Apply(entry.Function, CpuidRegister.Edx, entry.Edx);
            entries.Add(entry);
        }
        if (!hasHypervisorLeaf)
        {
            entries.Add(new KvmCpuidEntry2
            {
                Function = HypervisorLeaf,
                Eax = HypervisorLeaf,
                Ebx = KvmSignatureEbx,
                Ecx = KvmSignatureEcx,
                Edx = KvmSignatureEdx,
            });
        }
        return entries.ToArray();
    }
}
