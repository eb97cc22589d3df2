using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_read_in: READ's, READDIR's and READDIRPLUS's argument (40 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseReadIn
{
    public ulong Handle;
    public ulong Offset;
    public uint Size;
    public uint ReadFlags;
    public ulong LockOwner;
    public uint Flags;
    public uint Padding;
}
