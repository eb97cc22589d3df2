using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_lseek_in: LSEEK's argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseLseekIn
{
    public ulong Handle;
    public ulong Offset;
    public uint Whence;
    public uint Padding;
}
