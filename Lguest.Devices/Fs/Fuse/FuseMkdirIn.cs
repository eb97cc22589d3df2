using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_mkdir_in: MKDIR's argument, then the name.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseMkdirIn
{
    public uint Mode;
    public uint Umask;
}
