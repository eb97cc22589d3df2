namespace Lguest.Virtio;

/// <summary>How a <see cref="VirtioPciTransport"/> treats a driver that breaks the rules, and whom it tells.</summary>
public sealed class VirtioPciTransportOptions
{
    /// <summary>
    /// False (the default): a bad driver costs only its device, which enters DEVICE_NEEDS_RESET, logs
    /// once and waits for the driver to reset it; the guest and the other devices run on. True: the
    /// seed's behaviour, a bad driver is fatal. The transport still marks the device, then calls
    /// <see cref="Fatal"/>, and on a register access (a vCPU thread) throws the
    /// <see cref="BadDriverException"/> out of the bus access, so the run loop ends with
    /// "&lt;device&gt;: bad driver: &lt;what&gt;".
    /// </summary>
    public bool Strict { get; init; }

    /// <summary>
    /// In strict mode, called with each bad-driver error, from the thread that found it (a vCPU, or a
    /// device worker reporting a bad descriptor chain): the launcher stops the guest here. Not called
    /// otherwise.
    /// </summary>
    public Action<BadDriverException>? Fatal { get; init; }

    /// <summary>
    /// Called once each time the device enters DEVICE_NEEDS_RESET (a bad driver, or the device's own failure),
    /// from the thread that found it (a vCPU or a device worker), before the driver is told: the launcher raises
    /// <c>Launcher.DeviceNeedsReset</c> from here. Must not block. Not called for a bad driver in strict mode, which
    /// ends the run through <see cref="Fatal"/> instead.
    /// </summary>
    public Action<DeviceNeedsResetEventArgs>? NeedsReset { get; init; }
}
