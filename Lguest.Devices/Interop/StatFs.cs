using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>struct statfs, &lt;sys/vfs.h&gt; on x86_64 (120 bytes): what fstatfs(2) reports; checked against the C header by a test.</summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct StatFs
{
    /// <summary>sizeof(struct statfs).</summary>
    public const int Size = 120;

    [FieldOffset(8)] public long BlockSize;
    [FieldOffset(16)] public ulong Blocks;
    [FieldOffset(24)] public ulong FreeBlocks;
    [FieldOffset(32)] public ulong AvailableBlocks;
    [FieldOffset(40)] public ulong Files;
    [FieldOffset(48)] public ulong FreeFiles;
    [FieldOffset(64)] public long NameLength;
    [FieldOffset(72)] public long FragmentSize;
}
