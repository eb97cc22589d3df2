namespace Lguest.Virtio;

/// <summary>How a <see cref="VirtioPciTransport"/> treats a driver that breaks the rules.</summary>
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
}
