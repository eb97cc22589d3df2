namespace Lguest.Kvm;

/// <summary>
/// Edits applied to the CPUID that KVM_GET_SUPPORTED_CPUID reports before a vCPU gets it, as VMMs'
/// CPU templates do: hide features the guest must not use, advertise the hypervisor. The per-vCPU
/// APIC IDs (leaf 1 EBX[31:24], leaf 0xB EDX) are set by the backend itself.
/// </summary>
public sealed class CpuTemplate
{
    /// <summary>CPUID.1:ECX.CX16, cmpxchg16b (SDM Vol. 2A, Table 3-10).</summary>
    public const int Leaf1EcxCx16 = 13;

    /// <summary>CPUID.1:ECX.X2APIC.</summary>
    public const int Leaf1EcxX2Apic = 21;

    /// <summary>CPUID.1:ECX.XSAVE.</summary>
    public const int Leaf1EcxXsave = 26;

    /// <summary>CPUID.1:ECX.OSXSAVE.</summary>
    public const int Leaf1EcxOsxsave = 27;

    /// <summary>CPUID.1:ECX.AVX.</summary>
    public const int Leaf1EcxAvx = 28;

    /// <summary>CPUID.1:ECX bit 31, "hypervisor present" (reserved for hypervisors).</summary>
    public const int Leaf1EcxHypervisor = 31;

    private readonly List<CpuidEdit> _edits = [];

    /// <summary>The edits, in the order they are applied.</summary>
    public IReadOnlyList<CpuidEdit> Edits => _edits;

    /// <summary>Whether leaf 0xD (XSAVE state enumeration) is removed entirely.</summary>
    public bool RemovesXsaveLeaf { get; private set; }

    /// <summary>What every guest gets: the host's supported features with the hypervisor bit set.</summary>
    public static CpuTemplate Default => new CpuTemplate().Set(1, CpuidRegister.Ecx, Leaf1EcxHypervisor);

    /// <summary>
    /// For hosts whose KVM runs guests through an instruction emulator (kvm_pvm without hardware
    /// virtualization): hides XSAVE (and AVX, which needs it) and CMPXCHG16B, which that emulator
    /// cannot execute, so the guest kernel picks FXSAVE and plain cmpxchg instead.
    /// </summary>
    public static CpuTemplate InstructionEmulator => Default
        .Clear(1, CpuidRegister.Ecx, Leaf1EcxXsave)
        .Clear(1, CpuidRegister.Ecx, Leaf1EcxOsxsave)
        .Clear(1, CpuidRegister.Ecx, Leaf1EcxAvx)
        .Clear(1, CpuidRegister.Ecx, Leaf1EcxCx16)
        .RemoveXsaveLeaf();

    /// <summary>Sets <paramref name="bit"/> of <paramref name="register"/> in leaf <paramref name="leaf"/> (every sub-leaf).</summary>
    public CpuTemplate Set(uint leaf, CpuidRegister register, int bit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bit);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bit, 31);
        _edits.Add(new CpuidEdit(leaf, register, SetMask: 1u << bit, ClearMask: 0));
        return this;
    }

    /// <summary>Clears <paramref name="bit"/> of <paramref name="register"/> in leaf <paramref name="leaf"/> (every sub-leaf).</summary>
    public CpuTemplate Clear(uint leaf, CpuidRegister register, int bit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bit);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bit, 31);
        _edits.Add(new CpuidEdit(leaf, register, SetMask: 0, ClearMask: 1u << bit));
        return this;
    }

    /// <summary>Hides x2APIC mode, so the guest drives its local APIC through MMIO.</summary>
    public CpuTemplate WithoutX2Apic() => Clear(1, CpuidRegister.Ecx, Leaf1EcxX2Apic);

    /// <summary>Removes leaf 0xD, the XSAVE state enumeration, along with the XSAVE feature bit's meaning.</summary>
    public CpuTemplate RemoveXsaveLeaf()
    {
        RemovesXsaveLeaf = true;
        return this;
    }

    /// <summary>Applies the edits to one CPUID value.</summary>
    public uint Apply(uint leaf, CpuidRegister register, uint value)
    {
        foreach (CpuidEdit edit in _edits)
        {
            if (edit.Leaf == leaf && edit.Register == register)
                value = (value & ~edit.ClearMask) | edit.SetMask;
        }
        return value;
    }
}
