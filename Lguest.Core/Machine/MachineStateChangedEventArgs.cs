namespace Lguest.Machine;

/// <summary>The machine moved from <see cref="Previous"/> to <see cref="State"/>.</summary>
/// <param name="previous">The state it left.</param>
/// <param name="state">The state it entered.</param>
public sealed class MachineStateChangedEventArgs(MachineState previous, MachineState state) : EventArgs
{
    /// <summary>The state it left.</summary>
    public MachineState Previous { get; } = previous;

    /// <summary>The state it entered.</summary>
    public MachineState State { get; } = state;
}
