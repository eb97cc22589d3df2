using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_getattr_in: GETATTR's argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseGetattrIn
{
    public uint Flags;
    public uint Dummy;
    public ulong Handle;
}
