using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_fsync_in: FSYNC's and FSYNCDIR's argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseFsyncIn
{
    public ulong Handle;
    public uint FsyncFlags;
    public uint Padding;
}
