using System.Runtime.InteropServices;

namespace Lguest.Boot;

/// <summary>
/// struct hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h), version 1: what a PVH
/// entry point finds in EBX. 56 bytes, naturally aligned.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct HvmStartInfo
{
    /// <summary>sizeof(struct hvm_start_info) for version 1.</summary>
    public const int Size = 56;

    /// <summary>XEN_HVM_START_MAGIC_VALUE.</summary>
    public const uint MagicValue = 0x336e_c578;

    /// <summary>The version with <see cref="MemmapPaddr"/> and <see cref="MemmapEntries"/>.</summary>
    public const uint CurrentVersion = 1;

    /// <summary>0x00: <see cref="MagicValue"/>.</summary>
    [FieldOffset(0x00)] public uint Magic;

    /// <summary>0x04: the structure's version.</summary>
    [FieldOffset(0x04)] public uint Version;

    /// <summary>0x08: SIF_* flags; 0 for an unprivileged guest.</summary>
    [FieldOffset(0x08)] public uint Flags;

    /// <summary>0x0c: entries in the module list (1 for an initrd).</summary>
    [FieldOffset(0x0c)] public uint NrModules;

    /// <summary>0x10: physical address of the hvm_modlist_entry array.</summary>
    [FieldOffset(0x10)] public ulong ModlistPaddr;

    /// <summary>0x18: physical address of the NUL-terminated command line.</summary>
    [FieldOffset(0x18)] public ulong CmdlinePaddr;

    /// <summary>0x20: physical address of the ACPI RSDP, 0 for none.</summary>
    [FieldOffset(0x20)] public ulong RsdpPaddr;

    /// <summary>0x28, version 1: physical address of the hvm_memmap_table_entry array.</summary>
    [FieldOffset(0x28)] public ulong MemmapPaddr;

    /// <summary>0x30, version 1: entries in the memory map.</summary>
    [FieldOffset(0x30)] public uint MemmapEntries;

    /// <summary>0x34: must be zero.</summary>
    [FieldOffset(0x34)] public uint Reserved;
}
