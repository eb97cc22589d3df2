namespace Lguest.Machine;

/// <summary>The run ended: how, and why.</summary>
/// <param name="exit">The exit <see cref="Launcher.Run"/> returns.</param>
public sealed class GuestExitedEventArgs(GuestExit exit) : EventArgs
{
    /// <summary>The exit <see cref="Launcher.Run"/> returns.</summary>
    public GuestExit Exit { get; } = exit ?? throw new ArgumentNullException(nameof(exit));
}
