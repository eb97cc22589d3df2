using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// struct statx, &lt;linux/stat.h&gt; (256 bytes): what statx(2) reports about an inode. Only the fields a
/// FUSE attribute needs are named; the layout is checked against the C header by a test.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct Statx
{
    /// <summary>sizeof(struct statx).</summary>
    public const int Size = 256;

    [FieldOffset(0)] public uint Mask;
    [FieldOffset(4)] public uint BlockSize;
    [FieldOffset(16)] public uint LinkCount;
    [FieldOffset(20)] public uint Uid;
    [FieldOffset(24)] public uint Gid;
    [FieldOffset(28)] public ushort Mode;
    [FieldOffset(32)] public ulong Inode;
    [FieldOffset(40)] public ulong FileSize;
    [FieldOffset(48)] public ulong Blocks;
    [FieldOffset(64)] public StatxTimestamp AccessTime;
    [FieldOffset(96)] public StatxTimestamp ChangeTime;
    [FieldOffset(112)] public StatxTimestamp ModifyTime;
    [FieldOffset(128)] public uint RdevMajor;
    [FieldOffset(132)] public uint RdevMinor;
    [FieldOffset(136)] public uint DevMajor;
    [FieldOffset(140)] public uint DevMinor;

    /// <summary>The device the inode lives on, as one number: with the inode number it names the inode on the host.</summary>
    public readonly ulong Device => (ulong)DevMajor << 32 | DevMinor;

    /// <summary>The inode's rdev in the kernel's old 32-bit encoding (new_encode_dev), which FUSE carries.</summary>
    public readonly uint EncodedRdev => (RdevMinor & 0xff) | (RdevMajor & 0xfff) << 8 | (RdevMinor & ~0xffu) << 12;
}

/// <summary>struct statx_timestamp, &lt;linux/stat.h&gt;.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct StatxTimestamp
{
    public long Seconds;
    public uint Nanoseconds;
}
