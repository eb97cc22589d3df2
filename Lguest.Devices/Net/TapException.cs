namespace Lguest.Devices;

/// <summary>
/// The host refused what a network device needs: /dev/net/tun cannot be opened (missing, or no
/// permission), the tap cannot be created or configured, the bridge does not exist. The message is one
/// line naming the interface and the cause; no tap created for the device is left behind.
/// </summary>
public sealed class TapException : LguestException
{
    private readonly bool _tunMissing;

    internal TapException(string message, int errno = 0, bool tunMissing = false) : base(message)
    {
        Errno = errno;
        _tunMissing = tunMissing;
    }

    /// <summary>The errno of the failed call, or 0 when the failure is not a system call's.</summary>
    public int Errno { get; }

    /// <summary>Whether the cause is a missing privilege (EPERM, EACCES): the launcher needs CAP_NET_ADMIN.</summary>
    public bool IsPermissionDenied => Errno is 1 or 13;

    /// <summary>
    /// Whether the host cannot give this process taps at all (no privilege, no /dev/net/tun), as opposed
    /// to a configuration it refused (a missing bridge, a name in use).
    /// </summary>
    public bool IsHostUnavailable => _tunMissing || IsPermissionDenied;
}
