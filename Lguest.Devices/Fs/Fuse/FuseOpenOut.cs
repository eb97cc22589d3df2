using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_open_out: OPEN's, OPENDIR's and CREATE's handle.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseOpenOut
{
    public ulong Handle;
    public uint OpenFlags;
    public uint Padding;
}
