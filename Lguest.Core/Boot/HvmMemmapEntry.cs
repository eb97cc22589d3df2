using System.Runtime.InteropServices;

namespace Lguest.Boot;

/// <summary>struct hvm_memmap_table_entry (start_info.h): one range of the PVH memory map, 24 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct HvmMemmapEntry
{
    /// <summary>sizeof(struct hvm_memmap_table_entry).</summary>
    public const int Size = 24;

    /// <summary>0x00: base address of the range.</summary>
    [FieldOffset(0x00)] public ulong Addr;

    /// <summary>0x08: the range's size in bytes.</summary>
    [FieldOffset(0x08)] public ulong Length;

    /// <summary>0x10: XEN_HVM_MEMMAP_TYPE_*, the same numbers as e820.</summary>
    [FieldOffset(0x10)] public E820Type Type;

    /// <summary>0x14: must be zero in version 1.</summary>
    [FieldOffset(0x14)] public uint Reserved;
}
