using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_flush_in: FLUSH's argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseFlushIn
{
    public ulong Handle;
    public uint Unused;
    public uint Padding;
    public ulong LockOwner;
}
