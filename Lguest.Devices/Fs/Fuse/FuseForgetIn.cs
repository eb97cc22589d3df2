using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_forget_in: FORGET's argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseForgetIn
{
    public ulong Lookups;
}
