using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>struct io_sqring_offsets: byte offsets of the submission ring's fields in its mapping.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringSqOffsets
{
    public uint Head;
    public uint Tail;
    public uint RingMask;
    public uint RingEntries;
    public uint Flags;
    public uint Dropped;
    public uint Array;
    public uint Resv1;
    public ulong Resv2; // user_addr since Linux 6.5 (IORING_SETUP_NO_MMAP), unused here
}
