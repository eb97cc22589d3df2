namespace Lguest.Platform;

/// <summary>
/// The machine's power and reset inputs, as platform devices pull them: the ACPI sleep register,
/// the reset control register, the keyboard controller's reset line. Safe to call from any thread;
/// the first request wins.
/// </summary>
public interface IPowerControl
{
    /// <summary>The guest asked to be powered off (ACPI S5).</summary>
    void RequestPowerOff();

    /// <summary>The guest asked to be reset (reboot).</summary>
    void RequestReset();
}
