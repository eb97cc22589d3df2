using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_create_in: CREATE's argument, then the name.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseCreateIn
{
    public uint Flags;
    public uint Mode;
    public uint Umask;
    public uint OpenFlags;
}
