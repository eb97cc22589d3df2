using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Kvm;

/// <summary>
/// The GDT a kernel is entered with. The boot protocol (Documentation/x86/boot.rst, "32-bit" and
/// "64-bit BOOT PROTOCOL") fixes the selectors: __BOOT_CS = 0x10 and __BOOT_DS = 0x18, 4 GiB flat; PVH
/// (xen/arch-x86/hvm/start_info.h) wants the same flat segments and a 32-bit TSS in TR. Entry 1 stays
/// null, as in the kernel's own boot GDT.
/// </summary>
internal static class BootGdt
{
    /// <summary>Where the GDT is written: 0x500, the first free byte above the BIOS data area.</summary>
    public static readonly GuestAddress Address = new(0x500);

    public const ushort CodeSelector = 0x10;  // __BOOT_CS
    public const ushort DataSelector = 0x18;  // __BOOT_DS
    public const ushort TssSelector = 0x20;

    public const ulong Code64 = 0x00AF_9B00_0000_FFFF; // present, DPL 0, execute/read, L=1, G=1
    public const ulong Code32 = 0x00CF_9B00_0000_FFFF; // present, DPL 0, execute/read, D=1, G=1
    public const ulong Data = 0x00CF_9300_0000_FFFF;   // present, DPL 0, read/write, B=1, G=1
    public const ulong Tss32 = 0x0000_8B00_0000_0067;  // present, 32-bit busy TSS, base 0, limit 0x67

    /// <summary>The descriptors for <paramref name="mode"/>, index = selector / 8.</summary>
    public static ulong[] Entries(BootCpuMode mode) =>
        [0, 0, mode == BootCpuMode.Linux64 ? Code64 : Code32, Data, Tss32];

    /// <summary>Writes the GDT for <paramref name="mode"/> into guest memory; returns its limit (size - 1).</summary>
    public static ushort Write(GuestMemory memory, BootCpuMode mode)
    {
        ulong[] entries = Entries(mode);
        for (int i = 0; i < entries.Length; i++)
            memory.Write(Address.Offset((ulong)i * 8), entries[i]);
        return (ushort)(entries.Length * 8 - 1);
    }

    /// <summary>Unpacks a descriptor into the cached form KVM takes for a segment register.</summary>
    public static KvmSegment ToSegment(ulong descriptor, ushort selector)
    {
        uint limit = (uint)((descriptor & 0xFFFF) | ((descriptor >> 32) & 0xF_0000));
        bool granular = ((descriptor >> 55) & 1) != 0;
        return new KvmSegment
        {
            Base = ((descriptor >> 16) & 0xFF_FFFF) | ((descriptor >> 32) & 0xFF00_0000),
            // KVM takes the limit in bytes: with G=1 the 20-bit limit counts 4 KiB pages.
            Limit = granular ? (limit << 12) | 0xFFF : limit,
            Selector = selector,
            Type = (byte)((descriptor >> 40) & 0xF),
            S = (byte)((descriptor >> 44) & 1),
            Dpl = (byte)((descriptor >> 45) & 3),
            Present = (byte)((descriptor >> 47) & 1),
            Avl = (byte)((descriptor >> 52) & 1),
            L = (byte)((descriptor >> 53) & 1),
            Db = (byte)((descriptor >> 54) & 1),
            G = granular ? (byte)1 : (byte)0,
            Unusable = 0,
        };
    }
}
