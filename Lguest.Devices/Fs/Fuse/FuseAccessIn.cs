using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_access_in: ACCESS's argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseAccessIn
{
    public uint Mask;
    public uint Padding;
}
