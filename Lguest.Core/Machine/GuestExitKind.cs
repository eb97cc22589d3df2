namespace Lguest.Machine;

/// <summary>How a guest's run ended.</summary>
public enum GuestExitKind
{
    /// <summary>The guest powered itself off (ACPI S5, KVM system event).</summary>
    PowerOff,

    /// <summary>The guest asked for a reboot and rebooting was disabled.</summary>
    Reset,

    /// <summary>A vCPU halted with nothing left to wake it.</summary>
    Halted,

    /// <summary>The guest triple-faulted.</summary>
    TripleFault,

    /// <summary>The guest died (an emulation failure, a failed entry, a device or backend error).</summary>
    Failed,

    /// <summary>
    /// A driver broke the virtio rules under <see cref="LauncherOptions.StrictDrivers"/>: the message is the
    /// seed's "&lt;device&gt;: bad driver: &lt;what&gt;".
    /// </summary>
    BadDriver,

    /// <summary>The host stopped the guest (a signal, the console's escape, a cancelled run).</summary>
    Stopped,
}
