using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_write_out: WRITE's reply.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseWriteOut
{
    public uint Size;
    public uint Padding;
}
