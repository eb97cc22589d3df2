using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>struct iovec (&lt;sys/uio.h&gt;): one buffer of a vectored read or write the kernel holds.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoVec
{
    public nint Base;
    public nuint Length;
}
