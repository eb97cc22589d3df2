using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_fallocate_in: FALLOCATE's argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseFallocateIn
{
    public ulong Handle;
    public ulong Offset;
    public ulong Length;
    public uint Mode;
    public uint Padding;
}
