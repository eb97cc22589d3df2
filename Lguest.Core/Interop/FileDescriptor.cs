using System.Runtime.InteropServices;

namespace Lguest.Interop;

/// <summary>
/// Owns a Linux file descriptor (a /dev/kvm, VM or vCPU fd, an eventfd, a tap) and closes it exactly once.
/// </summary>
internal sealed class FileDescriptor : SafeHandle
{
    /// <summary>Creates an invalid handle for the marshaller to fill.</summary>
    public FileDescriptor() : base(invalidHandleValue: -1, ownsHandle: true) { }

    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public FileDescriptor(int fd) : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    /// <summary>Fd 0 is a valid descriptor; only -1 means none.</summary>
    public override bool IsInvalid => handle == -1;

    /// <summary>The raw number, for ioctls that take an fd as their argument.</summary>
    public int Number => (int)handle;

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
