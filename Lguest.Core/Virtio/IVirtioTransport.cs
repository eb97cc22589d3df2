namespace Lguest.Virtio;

/// <summary>
/// What an active device may ask of its transport: to interrupt the driver, and to report that the
/// driver broke the rules or that the device failed. Handed to the device in its <see cref="VirtioActivation"/>; after the next
/// reset the calls are ignored, so a worker finishing late cannot disturb a new activation. Safe from
/// any thread, and cheap: no allocation, no wait for a vCPU.
/// </summary>
public interface IVirtioTransport
{
    /// <summary>
    /// A used-buffer notification for queue <paramref name="queueIndex"/> (virtio 1.2 §2.7.10): call it
    /// after publishing used entries when the ring's suppression rules (VIRTQ_AVAIL_F_NO_INTERRUPT,
    /// used_event) say the driver wants one.
    /// </summary>
    void SignalUsedBuffers(int queueIndex);

    /// <summary>A configuration change notification: call it after changing configuration fields (and the generation).</summary>
    void SignalConfigChange();

    /// <summary>
    /// The driver broke the rules in a way only the device sees (a malformed descriptor chain): the
    /// device enters DEVICE_NEEDS_RESET with a configuration change notification, and the error is logged
    /// once (or ends the VM in strict mode). The caller stops serving its queues; the driver must reset.
    /// </summary>
    void ReportBadDriver(BadDriverException badDriver);

    /// <summary>
    /// The device itself failed (an unexpected exception in a worker, a host resource broken beyond repair):
    /// the device enters DEVICE_NEEDS_RESET with a configuration change notification, as for a bad driver, and
    /// the error is logged once with <paramref name="exception"/>. Never fatal to the run, even in strict mode: the
    /// driver broke no rule. The caller stops serving its queues; the driver may reset the device and try again.
    /// </summary>
    /// <param name="what">What failed, for the log.</param>
    /// <param name="exception">The exception, if there is one.</param>
    void ReportDeviceFailure(string what, Exception? exception);
}
