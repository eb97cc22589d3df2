namespace Lguest.Fuzz;

/// <summary>
/// A fuzz target's own check failed: the code under test returned normally but broke a promise (wrote guest
/// memory it must not, handed out a buffer outside RAM, grew a disk image). Deliberately not an
/// <see cref="LguestException"/>: it escapes <see cref="FuzzTarget.Execute"/> and counts as a crash.
/// </summary>
public sealed class InvariantViolationException : Exception
{
    /// <summary>Reports a broken invariant.</summary>
    public InvariantViolationException(string message) : base(message)
    {
    }

    /// <summary>Required by the exception pattern; the targets always give a message.</summary>
    public InvariantViolationException() : base("a fuzz target invariant was broken")
    {
    }

    /// <summary>Required by the exception pattern.</summary>
    public InvariantViolationException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Throws when <paramref name="condition"/> is false.</summary>
    public static void ThrowUnless(bool condition, string message)
    {
        if (!condition)
            throw new InvariantViolationException(message);
    }
}
