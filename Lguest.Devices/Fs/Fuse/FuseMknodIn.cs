using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_mknod_in: MKNOD's argument, then the name.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseMknodIn
{
    public uint Mode;
    public uint Rdev;
    public uint Umask;
    public uint Padding;
}
