using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>struct open_how, &lt;linux/openat2.h&gt;: what openat2(2) opens and how it may resolve the path.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct OpenHow
{
    /// <summary>The O_* flags.</summary>
    public ulong Flags;

    /// <summary>The mode of a file O_CREAT makes (0 otherwise: openat2 refuses a mode without O_CREAT).</summary>
    public ulong Mode;

    /// <summary>The RESOLVE_* flags.</summary>
    public ulong Resolve;
}
