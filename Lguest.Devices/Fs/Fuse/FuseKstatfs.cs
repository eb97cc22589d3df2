using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_kstatfs (struct fuse_statfs_out): STATFS's reply (80 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseKstatfs
{
    public ulong Blocks;
    public ulong FreeBlocks;
    public ulong AvailableBlocks;
    public ulong Files;
    public ulong FreeFiles;
    public uint BlockSize;
    public uint NameLength;
    public uint FragmentSize;
    public uint Padding;
    public FuseSpare6 Spare;
}
