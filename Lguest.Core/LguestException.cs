namespace Lguest;

/// <summary>
/// The base of every error Lguest.NET reports on purpose. Callers catch this type to tell an
/// expected failure (a bad kernel, a bad driver, a failed ioctl) from a bug.
/// </summary>
public abstract class LguestException : Exception
{
    /// <summary>Creates the exception with its message: one line for a person, no stack trace needed to understand it.</summary>
    /// <remarks>Protected so a device assembly can report its own expected failures (a missing disk image, a tap it
    /// may not create) as Lguest exceptions, which a launcher maps to "bad input" rather than "bug".</remarks>
    protected LguestException(string message) : base(message) { }

    /// <summary>Creates the exception with its message and the error that caused it.</summary>
    protected LguestException(string message, Exception? innerException) : base(message, innerException) { }
}
