namespace Lguest.Devices;

/// <summary>
/// The host refused what the vsock device needs: the Unix socket at its path cannot be created (the path is in
/// use, its folder is missing or not writable, it is too long for a socket address). One line naming the path
/// and the cause.
/// </summary>
public sealed class VsockException : LguestException
{
    internal VsockException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}
