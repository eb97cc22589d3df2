using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// Owns one file descriptor of a shared folder (an inode's O_PATH handle, an open file or directory, the
/// /proc/self/fd directory) and closes it exactly once. Every call that takes it through P/Invoke holds a
/// reference for the call's duration, so a FORGET or RELEASE on one queue cannot close (and let the kernel
/// reuse) a descriptor that a request on another queue is still using.
/// </summary>
internal sealed class FsDescriptor : SafeHandle
{
    /// <summary>Creates an invalid handle.</summary>
    public FsDescriptor() : base(invalidHandleValue: -1, ownsHandle: true) { }

    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public FsDescriptor(int fd) : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    /// <summary>Fd 0 is a valid descriptor; only -1 means none.</summary>
    public override bool IsInvalid => handle == -1;

    /// <summary>The descriptor's number, for a /proc/self/fd/N name (the caller holds a reference).</summary>
    public int Number => (int)handle;

    protected override bool ReleaseHandle() => FsLibc.Close((int)handle) == 0;
}
