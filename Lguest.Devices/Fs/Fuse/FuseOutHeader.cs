using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_out_header: the head of every reply (16 bytes); <c>Error</c> is 0 or a negative errno.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseOutHeader
{
    public uint Length;
    public int Error;
    public ulong Unique;
}
