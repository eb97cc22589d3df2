using System.Runtime.InteropServices;

namespace Lguest.Boot;

/// <summary>struct hvm_modlist_entry (start_info.h): one module (the initrd) handed to a PVH kernel, 32 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct HvmModlistEntry
{
    /// <summary>sizeof(struct hvm_modlist_entry).</summary>
    public const int Size = 32;

    /// <summary>0x00: physical address of the module.</summary>
    [FieldOffset(0x00)] public ulong Paddr;

    /// <summary>0x08: the module's size in bytes.</summary>
    [FieldOffset(0x08)] public ulong Length;

    /// <summary>0x10: physical address of the module's command line, 0 for none.</summary>
    [FieldOffset(0x10)] public ulong CmdlinePaddr;

    /// <summary>0x18: must be zero.</summary>
    [FieldOffset(0x18)] public ulong Reserved;
}
