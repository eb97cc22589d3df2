using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_forget_one: one node of BATCH_FORGET.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseForgetOne
{
    public ulong NodeId;
    public ulong Lookups;
}
