using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// struct io_uring_params (&lt;linux/io_uring.h&gt;): what io_uring_setup(2) takes and fills in, including
/// where the rings' fields lie in the mappings. Layout checked against the header by a test.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringParams
{
    public uint SqEntries;
    public uint CqEntries;
    public uint Flags;
    public uint SqThreadCpu;
    public uint SqThreadIdle;
    public uint Features;
    public uint WqFd;
    public uint Resv0;
    public uint Resv1;
    public uint Resv2;
    public IoUringSqOffsets SqOff;
    public IoUringCqOffsets CqOff;
}
