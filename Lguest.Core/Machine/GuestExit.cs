namespace Lguest.Machine;

/// <summary>Why <see cref="Launcher.Run"/> returned.</summary>
/// <param name="Kind">How the run ended.</param>
/// <param name="Message">What happened, for the user; one line.</param>
public sealed record GuestExit(GuestExitKind Kind, string Message)
{
    /// <summary>Whether the guest ended the way a guest should (power off, reboot without rebooting, halt, stopped by the host).</summary>
    public bool IsClean => Kind is GuestExitKind.PowerOff or GuestExitKind.Reset or GuestExitKind.Halted or GuestExitKind.Stopped;
}
