using System.Runtime.InteropServices;

namespace Lguest.Boot;

/// <summary>
/// The zero page: struct boot_params (arch/x86/include/uapi/asm/bootparam.h), the 4 KiB a loader
/// hands a Linux kernel at its 32- or 64-bit entry. Only the fields a loader fills are named; the
/// rest (screen, APM, EDD, EFI information) stays zero. Offsets are absolute, as in the header's comments.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct BootParams
{
    /// <summary>sizeof(struct boot_params).</summary>
    public const int Size = 4096;

    /// <summary>E820_MAX_ENTRIES_ZEROPAGE: the zero page's e820 table holds this many entries.</summary>
    public const int MaxE820Entries = 128;

    /// <summary>0x058: Intel TXT boot address; 0 (no tboot), as the lguest launcher insists.</summary>
    [FieldOffset(0x058)] public ulong TbootAddr;

    /// <summary>0x070, protocol 2.14+: physical address of the ACPI RSDP.</summary>
    [FieldOffset(0x070)] public ulong AcpiRsdpAddr;

    /// <summary>0x0c0: high 32 bits of the initrd address.</summary>
    [FieldOffset(0x0c0)] public uint ExtRamdiskImage;

    /// <summary>0x0c4: high 32 bits of the initrd size.</summary>
    [FieldOffset(0x0c4)] public uint ExtRamdiskSize;

    /// <summary>0x0c8: high 32 bits of the command line address.</summary>
    [FieldOffset(0x0c8)] public uint ExtCmdLinePtr;

    /// <summary>0x1e0: alternative memory size in KiB (obsolete).</summary>
    [FieldOffset(0x1e0)] public uint AltMemK;

    /// <summary>0x1e8: number of valid entries in <see cref="E820Table"/>.</summary>
    [FieldOffset(0x1e8)] public byte E820Entries;

    /// <summary>
    /// 0x1ef: nonzero tells the kernel the loader copied stale data around the header; a loader that
    /// fills the page field by field leaves it 0.
    /// </summary>
    [FieldOffset(0x1ef)] public byte Sentinel;

    /// <summary>0x1f1: the setup header.</summary>
    [FieldOffset(SetupHeader.OffsetInImage)] public SetupHeader Hdr;

    /// <summary>0x2d0: the memory map, <see cref="E820Entries"/> entries of it valid.</summary>
    [FieldOffset(0x2d0)] public E820Table E820Table;
}
