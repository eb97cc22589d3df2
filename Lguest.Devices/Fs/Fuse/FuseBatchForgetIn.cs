using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_batch_forget_in: BATCH_FORGET's count of fuse_forget_one records that follow.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseBatchForgetIn
{
    public uint Count;
    public uint Dummy;
}
