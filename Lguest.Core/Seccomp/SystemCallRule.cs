namespace Lguest.Seccomp;

/// <summary>
/// One line of a <see cref="SeccompPolicy"/>: a system call the launcher may make once the guest runs, either with
/// any arguments, only with one argument among listed values (an ioctl request, a socket family), or answered
/// with an error instead of being made (so a library falls back to a call the policy allows).
/// </summary>
public sealed class SystemCallRule
{
    private SystemCallRule(string name, int number, int? argument, IReadOnlyList<uint> values, int? error, string reason)
    {
        Name = name;
        Number = number;
        Argument = argument;
        AllowedValues = values;
        Error = error;
        Reason = reason;
    }

    /// <summary>The x86-64 name of the call, as in <c>asm/unistd_64.h</c> (<c>ioctl</c>, <c>openat</c>).</summary>
    public string Name { get; }

    /// <summary>Its x86-64 number.</summary>
    public int Number { get; }

    /// <summary>The argument (0 to 5) whose low 32 bits must be one of <see cref="AllowedValues"/>; null when any is allowed.</summary>
    public int? Argument { get; }

    /// <summary>The values <see cref="Argument"/> may take; empty when the call is not filtered on an argument.</summary>
    public IReadOnlyList<uint> AllowedValues { get; }

    /// <summary>The errno the call gets instead of running (the kernel never runs it); null when it runs.</summary>
    public int? Error { get; }

    /// <summary>Who needs the call and why, for whoever reads the table.</summary>
    public string Reason { get; }

    /// <summary>The call is allowed with any arguments.</summary>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not an x86-64 system call.</exception>
    public static SystemCallRule Any(string name, string reason) =>
        new(name, SystemCallNames.NumberOf(name), null, [], null, reason);

    /// <summary>
    /// The call is allowed when the low 32 bits of argument <paramref name="argument"/> are one of
    /// <paramref name="values"/> (the kernel reads an ioctl request, a socket family or a clone flag word as 32 bits).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a system call, or no value is given.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="argument"/> is not 0 to 5.</exception>
    public static SystemCallRule WhereArgument(string name, int argument, IEnumerable<uint> values, string reason)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(argument);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(argument, 5);
        uint[] allowed = [.. values.Distinct()];
        if (allowed.Length == 0)
            throw new ArgumentException("an argument filter needs at least one allowed value", nameof(values));
        return new(name, SystemCallNames.NumberOf(name), argument, allowed, null, reason);
    }

    /// <summary>The call is not made: it returns -<paramref name="error"/> at once (ENOSYS makes glibc fall back).</summary>
    public static SystemCallRule Fails(string name, int error, string reason)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(error);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(error, 4095);
        return new(name, SystemCallNames.NumberOf(name), null, [], error, reason);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        Error is { } e ? $"{Name} -> errno {e}"
        : Argument is { } a ? $"{Name} where arg{a} in [{string.Join(", ", AllowedValues.Select(v => $"0x{v:x}"))}]"
        : Name;

    /// <summary>This rule and <paramref name="other"/>, for the same call, as one: the looser wins.</summary>
    internal SystemCallRule Merge(SystemCallRule other)
    {
        if (other.Number != Number)
            throw new ArgumentException($"cannot merge rules for {Name} and {other.Name}", nameof(other));
        if (Error is null && Argument is null)
            return this;
        if (other.Error is null && other.Argument is null)
            return other;
        if (Error is not null)
            return other;
        if (other.Error is not null)
            return this;
        if (Argument != other.Argument)
            return Any(Name, $"{Reason}; {other.Reason}");
        return new(Name, Number, Argument, [.. AllowedValues.Union(other.AllowedValues)], null, $"{Reason}; {other.Reason}");
    }
}
