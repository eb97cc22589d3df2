namespace Lguest.Fuzz;

/// <summary>
/// One fuzz target: a parser or state machine of Lguest.Core or Lguest.Devices fed with arbitrary bytes.
/// <see cref="Execute"/> is the single entry point, for libFuzzer (through SharpFuzz) and for the suite's
/// corpus replay alike.
/// </summary>
public abstract class FuzzTarget
{
    /// <summary>The target's name on the command line and its corpus folder (fuzz/corpus/NAME).</summary>
    public abstract string Name { get; }

    /// <summary>The longest input worth trying (libFuzzer's -max_len).</summary>
    public virtual int MaxInputLength => 4096;

    /// <summary>
    /// Runs one input. A refusal in one of the project's own exception types (<see cref="LguestException"/>)
    /// is the expected answer to bad input and ends the run quietly; anything else escapes and is a crash:
    /// an unexpected .NET exception, or an <see cref="InvariantViolationException"/> from the target's checks.
    /// </summary>
    public void Execute(ReadOnlySpan<byte> input)
    {
        try
        {
            Run(input);
        }
        catch (LguestException)
        {
        }
    }

    /// <summary>
    /// Runs one input like <see cref="Execute"/> and says how it ended: "accepted", or "refused: " and the
    /// project's exception that ended it (for people triaging a corpus; crashes still escape).
    /// </summary>
    public string Explain(ReadOnlySpan<byte> input)
    {
        try
        {
            Run(input);
            return "accepted";
        }
        catch (LguestException e)
        {
            return $"refused: {e.GetType().Name}: {e.Message}";
        }
    }

    /// <summary>Hand-made starting inputs: each reaches a different path the fuzzer should grow from.</summary>
    public abstract IEnumerable<KeyValuePair<string, byte[]>> Seeds();

    /// <summary>Interprets <paramref name="input"/> and checks the target's invariants.</summary>
    protected abstract void Run(ReadOnlySpan<byte> input);
}
