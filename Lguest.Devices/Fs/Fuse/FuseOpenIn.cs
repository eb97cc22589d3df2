using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_open_in: OPEN's and OPENDIR's argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseOpenIn
{
    public uint Flags;
    public uint OpenFlags;
}
