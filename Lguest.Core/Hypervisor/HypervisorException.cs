using System.Runtime.InteropServices;

namespace Lguest.Hypervisor;

/// <summary>The hypervisor refused or failed a request: an ioctl on /dev/kvm, a write to /dev/lguest.</summary>
public sealed class HypervisorException : LguestException
{
    internal HypervisorException(string message, int errno = 0) : base(message) => Errno = errno;

    /// <summary>The errno the kernel returned, or 0.</summary>
    public int Errno { get; }

    /// <summary>An exception for <paramref name="request"/> failing with <paramref name="errno"/>.</summary>
    internal static HypervisorException FromErrno(string request, int errno) =>
        new($"{request} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
}
