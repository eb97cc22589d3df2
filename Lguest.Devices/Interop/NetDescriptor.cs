using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// Owns one file descriptor of the networking code (the tap's /dev/net/tun fd, the AF_INET socket used
/// for interface ioctls) and closes it exactly once. Closing the tap's fd removes a tap this process
/// created (it is never made persistent), which is what leaves no tap behind on any exit path.
/// </summary>
internal sealed class NetDescriptor : SafeHandle
{
    /// <summary>Creates an invalid handle.</summary>
    public NetDescriptor() : base(invalidHandleValue: -1, ownsHandle: true) { }

    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public NetDescriptor(int fd) : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    /// <summary>Fd 0 is a valid descriptor; only -1 means none.</summary>
    public override bool IsInvalid => handle == -1;

    protected override bool ReleaseHandle() => NetLibc.Close((int)handle) == 0;
}
