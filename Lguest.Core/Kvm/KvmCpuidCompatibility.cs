using System.Text;
using Lguest.Snapshot;

namespace Lguest.Kvm;

/// <summary>
/// Whether a vCPU's CPUID from a snapshot can run on this host: the same CPU vendor, and every feature bit it was
/// given among those KVM reports as supported here (KVM_GET_SUPPORTED_CPUID). A guest kernel chose its code paths
/// (AVX copies, RDRAND, XSAVE layouts) by the features it saw at boot and never looks again, so restoring it where
/// one is missing would fault in the guest later, far from the cause. Refused here with the feature named.
/// </summary>
internal static class KvmCpuidCompatibility
{
    // The registers that hold feature flags, by leaf and sub-leaf. Other leaves describe topology, cache sizes or
    // limits, which differ between hosts without a guest depending on them after boot.
    private static readonly (uint Leaf, uint Subleaf, CpuidRegister Register)[] FeatureRegisters =
    [
        (1, 0, CpuidRegister.Ecx), (1, 0, CpuidRegister.Edx),
        (7, 0, CpuidRegister.Ebx), (7, 0, CpuidRegister.Ecx), (7, 0, CpuidRegister.Edx), (7, 1, CpuidRegister.Eax),
        (0xD, 1, CpuidRegister.Eax),
        (0x8000_0001, 0, CpuidRegister.Ecx), (0x8000_0001, 0, CpuidRegister.Edx),
        (0x8000_0007, 0, CpuidRegister.Edx), (0x8000_0008, 0, CpuidRegister.Ebx),
        (0x4000_0001, 0, CpuidRegister.Eax),
    ];

    // Bits that are not features of the host: KVM updates them from the vCPU's control registers as it runs
    // (OSXSAVE follows CR4.OSXSAVE, OSPKE follows CR4.PKE) or the launcher sets them itself (the hypervisor bit, and
    // the TSC-deadline timer, which KVM's local APIC emulates and KVM_GET_SUPPORTED_CPUID leaves out).
    private static readonly (uint Leaf, uint Subleaf, CpuidRegister Register, uint Mask)[] NotHostFeatures =
    [
        (1, 0, CpuidRegister.Ecx, 1u << CpuTemplate.Leaf1EcxOsxsave),
        (1, 0, CpuidRegister.Ecx, 1u << CpuTemplate.Leaf1EcxHypervisor),
        (1, 0, CpuidRegister.Ecx, 1u << VcpuCpuid.Leaf1EcxTscDeadline),
        (7, 0, CpuidRegister.Ecx, 1u << 4), // OSPKE
    ];

    /// <summary>Throws naming the first difference that would break the guest.</summary>
    public static void Check(ReadOnlySpan<KvmCpuidEntry2> snapshot, ReadOnlySpan<KvmCpuidEntry2> supported)
    {
        string snapshotVendor = Vendor(snapshot), hostVendor = Vendor(supported);
        if (snapshotVendor != hostVendor)
            throw new SnapshotException(SnapshotRefusal.Incompatible,
                $"the snapshot was taken on a {snapshotVendor} CPU; this host's is {hostVendor}");
        foreach ((uint leaf, uint subleaf, CpuidRegister register) in FeatureRegisters)
        {
            uint used = Value(snapshot, leaf, subleaf, register) & ~Ignored(leaf, subleaf, register);
            uint missing = used & ~Value(supported, leaf, subleaf, register);
            if (missing != 0)
            {
                int bit = System.Numerics.BitOperations.TrailingZeroCount(missing);
                int more = System.Numerics.BitOperations.PopCount(missing) - 1;
                throw new SnapshotException(SnapshotRefusal.Incompatible,
                    $"the snapshot's guest uses CPU feature {CpuidFeatureNames.Describe(leaf, subleaf, register, bit)}, which this host's KVM does not offer"
                    + (more > 0 ? $" (and {more} more in that register)" : ""));
            }
        }
    }

    /// <summary>Throws when XCR0 enables an XSAVE state component this host's KVM does not support.</summary>
    public static unsafe void CheckXcr0(KvmXcrs xcrs, ReadOnlySpan<KvmCpuidEntry2> supported)
    {
        ulong supportedXcr0 = Value(supported, 0xD, 0, CpuidRegister.Eax) | ((ulong)Value(supported, 0xD, 0, CpuidRegister.Edx) << 32);
        supportedXcr0 |= 1; // x87 state always exists
        uint count = Math.Min(xcrs.NrXcrs, (uint)KvmXcrs.MaxXcrs);
        var entries = new ReadOnlySpan<KvmXcr>(xcrs.Xcrs, KvmXcrs.MaxXcrs);
        for (int i = 0; i < count; i++)
        {
            if (entries[i].Xcr != 0)
                continue;
            ulong missing = entries[i].Value & ~supportedXcr0;
            if (missing != 0)
                throw new SnapshotException(SnapshotRefusal.Incompatible,
                    $"the snapshot's guest enabled the {CpuidFeatureNames.DescribeXsaveComponent(System.Numerics.BitOperations.TrailingZeroCount(missing))} state in XCR0, which this host's KVM does not offer");
        }
    }

    private static uint Ignored(uint leaf, uint subleaf, CpuidRegister register)
    {
        uint mask = 0;
        foreach ((uint l, uint s, CpuidRegister r, uint m) in NotHostFeatures)
        {
            if (l == leaf && s == subleaf && r == register)
                mask |= m;
        }
        return mask;
    }

    private static string Vendor(ReadOnlySpan<KvmCpuidEntry2> entries)
    {
        Span<byte> name = stackalloc byte[12];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(name, Value(entries, 0, 0, CpuidRegister.Ebx));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(name[4..], Value(entries, 0, 0, CpuidRegister.Edx));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(name[8..], Value(entries, 0, 0, CpuidRegister.Ecx));
        var text = new StringBuilder(12);
        foreach (byte b in name)
            text.Append(b is >= 0x20 and < 0x7F ? (char)b : '?'); // the snapshot's bytes go into a message: printable only
        return text.ToString();
    }

    // The register of the entry for (leaf, subleaf); 0 when there is none (a leaf the CPU does not have).
    private static uint Value(ReadOnlySpan<KvmCpuidEntry2> entries, uint leaf, uint subleaf, CpuidRegister register)
    {
        foreach (KvmCpuidEntry2 e in entries)
        {
            bool indexed = (e.Flags & KvmIoctl.CpuidFlagSignificantIndex) != 0;
            if (e.Function != leaf || (indexed ? e.Index != subleaf : subleaf != 0))
                continue;
            return register switch
            {
                CpuidRegister.Eax => e.Eax,
                CpuidRegister.Ebx => e.Ebx,
                CpuidRegister.Ecx => e.Ecx,
                _ => e.Edx,
            };
        }
        return 0;
    }
}
