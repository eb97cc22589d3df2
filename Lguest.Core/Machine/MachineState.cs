namespace Lguest.Machine;

/// <summary>Where a <see cref="Launcher"/>'s machine is in its life (<see cref="Launcher.State"/>, <see cref="Launcher.StateChanged"/>).</summary>
/// <remarks>
/// The order is Configured, then Booting and Running for each boot (a reboot goes back to Booting), then Stopped,
/// once; a running machine may go to Paused and back (<see cref="Launcher.PauseAsync"/>, <see cref="Launcher.ResumeAsync"/>)
/// any number of times, and a paused one may be stopped. Code that switches on the state should have a default branch.
/// </remarks>
public enum MachineState
{
    /// <summary>Composed, not started: <see cref="Launcher.Run"/> has not been called.</summary>
    Configured,

    /// <summary>A boot is being built: the backend opened, memory, devices and the kernel loaded, vCPUs created.</summary>
    Booting,

    /// <summary>The vCPUs run the guest.</summary>
    Running,

    /// <summary>
    /// Every vCPU is parked outside the guest and every device is quiescent (its requests in hand finished, no
    /// worker running, no host I/O): the guest makes no progress until <see cref="Launcher.ResumeAsync"/>.
    /// </summary>
    Paused,

    /// <summary>The run is over (<see cref="Launcher.Exit"/> says how, unless building the machine failed); final.</summary>
    Stopped,
}
