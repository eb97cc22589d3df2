namespace Lguest.Machine;

/// <summary>
/// The machine is not in a state where the operation makes sense: pausing a machine that is not running, resuming one
/// that is not paused, a second run. Nothing changed. The message is one line for a person ("cannot pause: the
/// machine is not running (Paused)").
/// </summary>
public sealed class MachineStateException : LguestException
{
    internal MachineStateException(string operation, MachineState state, string reason)
        : base($"cannot {operation}: {reason}")
    {
        Operation = operation;
        State = state;
    }

    /// <summary>What was refused ("pause", "resume", "request a shutdown").</summary>
    public string Operation { get; }

    /// <summary>The state the machine was in.</summary>
    public MachineState State { get; }
}
