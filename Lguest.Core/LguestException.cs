namespace Lguest;

/// <summary>
/// The base of every error Lguest.NET reports on purpose. Callers catch this type to tell an
/// expected failure (a bad kernel, a bad driver, a failed ioctl) from a bug.
/// </summary>
public abstract class LguestException : Exception
{
    /// <summary>Creates the exception with its message.</summary>
    private protected LguestException(string message) : base(message) { }

    /// <summary>Creates the exception with its message and the error that caused it.</summary>
    private protected LguestException(string message, Exception? innerException) : base(message, innerException) { }
}
