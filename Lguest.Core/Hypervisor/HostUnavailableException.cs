using Lguest.Interop;

namespace Lguest.Hypervisor;

/// <summary>
/// This host cannot run guests on the backend asked for: its device is missing, not accessible, or unfit. Thrown
/// where the machine starts (<c>Launcher.Run</c>, <c>RunAsync</c>) or where a backend is opened directly
/// (<c>KvmHypervisor.Open</c>), with the reason as data; the message is one line for a person
/// ("cannot open /dev/kvm: permission denied (add your user to the kvm group)").
/// </summary>
public sealed class HostUnavailableException : LguestException
{
    internal HostUnavailableException(string backend, string devicePath, HostUnavailableReason reason, string message, int errno = 0)
        : base(message)
    {
        Backend = backend;
        DevicePath = devicePath;
        Reason = reason;
        Errno = errno;
    }

    /// <summary>The backend that is unavailable ("kvm", "lguest").</summary>
    public string Backend { get; }

    /// <summary>The device node it needs ("/dev/kvm").</summary>
    public string DevicePath { get; }

    /// <summary>Why it is unavailable.</summary>
    public HostUnavailableReason Reason { get; }

    /// <summary>The errno of the failed open, or 0 when the device opened but is unfit.</summary>
    public int Errno { get; }

    /// <summary>The reason an open of a device node failed with <paramref name="errno"/>.</summary>
    internal static HostUnavailableReason ReasonOf(int errno) => errno switch
    {
        Libc.ENOENT => HostUnavailableReason.DeviceMissing,
        Libc.EACCES or Libc.EPERM => HostUnavailableReason.PermissionDenied,
        Libc.ENXIO or Libc.ENODEV => HostUnavailableReason.NoDriver,
        _ => HostUnavailableReason.OpenFailed,
    };
}
