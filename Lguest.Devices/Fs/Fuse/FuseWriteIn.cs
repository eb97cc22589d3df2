using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_write_in: WRITE's argument (40 bytes); the data follows.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseWriteIn
{
    public ulong Handle;
    public ulong Offset;
    public uint Size;
    public uint WriteFlags;
    public ulong LockOwner;
    public uint Flags;
    public uint Padding;
}
