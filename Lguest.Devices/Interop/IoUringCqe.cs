using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>struct io_uring_cqe: one completion, the request's user_data and its result (bytes, or -errno).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringCqe
{
    public ulong UserData;
    public int Res;
    public uint Flags;
}
