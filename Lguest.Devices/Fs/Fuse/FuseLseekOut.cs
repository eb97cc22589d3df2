using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_lseek_out: LSEEK's reply.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseLseekOut
{
    public ulong Offset;
}
