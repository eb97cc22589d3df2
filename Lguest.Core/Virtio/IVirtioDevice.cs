namespace Lguest.Virtio;

/// <summary>
/// A virtio device as its transport sees it: what it offers, its configuration space and its queues.
/// It knows nothing of PCI or of the hypervisor backend; a transport (<see cref="VirtioPciTransport"/>)
/// negotiates with the driver and hands the device live queues at DRIVER_OK. Derive a device from
/// <see cref="VirtioDevice"/>, which implements the life cycle (workers, idempotent reset, containment of errors)
/// once; implement this interface directly only for something that base does not fit.
/// </summary>
/// <remarks>
/// Threads: the transport calls every member from a vCPU thread (or the thread disposing it), one call
/// at a time per device. The device does its I/O on its own worker(s), started by <see cref="Activate"/>
/// and stopped by <see cref="Reset"/>: a vCPU thread never waits for device I/O. A worker talks back only
/// through the activation's <see cref="IVirtioTransport"/>, which never waits for a vCPU.
/// </remarks>
public interface IVirtioDevice
{
    /// <summary>A short name for messages and the bad-driver error ("console", "block0").</summary>
    string Name { get; }

    /// <summary>The virtio device ID.</summary>
    VirtioDeviceType DeviceType { get; }

    /// <summary>
    /// The feature bits the device offers, device-specific ones and the ring features its queues
    /// support (<see cref="VirtioFeatures.RingEventIndex"/>, <see cref="VirtioFeatures.RingIndirectDescriptors"/>).
    /// The transport adds <see cref="VirtioFeatures.Version1"/> and withholds transport features it does
    /// not implement (<see cref="VirtioFeatures.UnsupportedByPciTransport"/>).
    /// </summary>
    ulong DeviceFeatures { get; }

    /// <summary>The maximum size of each queue (a power of two, 1 to 32768); the count is the number of queues.</summary>
    IReadOnlyList<ushort> QueueMaxSizes { get; }

    /// <summary>The size in bytes of the device-specific configuration space (0 for none), at most 4096.</summary>
    int ConfigSize { get; }

    /// <summary>
    /// The configuration generation (virtio 1.2 §2.5.1): changes whenever any configuration field
    /// changes, so a driver reading a multi-field value can tell it read a consistent one.
    /// </summary>
    byte ConfigGeneration { get; }

    /// <summary>
    /// The driver reads device configuration: <c>data.Length</c> (1, 2, 4 or 8) bytes at
    /// <paramref name="offset"/>, which the transport has checked lie inside <see cref="ConfigSize"/>.
    /// </summary>
    void ReadConfig(int offset, Span<byte> data);

    /// <summary>
    /// The driver writes device configuration (same checks as <see cref="ReadConfig"/>). Writes to
    /// read-only fields are ignored, or reported through the activation's transport as a bad driver.
    /// </summary>
    void WriteConfig(int offset, ReadOnlySpan<byte> data);

    /// <summary>
    /// The driver set DRIVER_OK: start serving the queues the driver enabled, with the features it
    /// accepted. Start the worker(s) and return; throw <see cref="BadDriverException"/> when the set-up
    /// cannot work (a required queue left disabled), which puts the device in DEVICE_NEEDS_RESET.
    /// </summary>
    void Activate(VirtioActivation activation);

    /// <summary>
    /// Returns the device to its initial state: stop and wait for the worker(s), forget the queues
    /// and the negotiated features, reset the configuration generation. When this returns, the device
    /// no longer touches guest memory nor calls the activation's transport. Called on every driver reset
    /// (and when the device is marked broken), also when the device was never activated: it must be
    /// idempotent. Never called from the device's own worker.
    /// </summary>
    void Reset();

    /// <summary>
    /// The machine is being paused, every vCPU already out of the guest: finish the requests in hand (push them
    /// used, signal the driver), then stop every worker and all host I/O, keeping the activation (features, queues,
    /// their positions) for <see cref="Resume"/>. When this returns the device makes no guest-visible progress and
    /// touches no host resource. Idempotent; nothing to do when not activated.
    /// </summary>
    void Pause();

    /// <summary>
    /// The machine resumes after <see cref="Pause"/>: serve the same queues again, from where they were. Nothing to
    /// do when not paused, or when the activation ended meanwhile (a reset clears the pause).
    /// </summary>
#pragma warning disable CA1716 // Resume is the word every VMM uses (Firecracker's "Resumed"); VB's keyword does not apply here
    void Resume();
#pragma warning restore CA1716

    /// <summary>
    /// For a snapshot of the paused machine: the device's own state beyond what the transport and guest memory hold
    /// (configuration the driver wrote, host-side progress such as a console's unread input), in an encoding of the
    /// device's choice (<see cref="Snapshot.SnapshotStateWriter"/> is there to use). Called with the device quiescent:
    /// no worker touches guest memory, every request it took from a queue completed. The default refuses: a device
    /// takes part in snapshots only by saying what its state is, even when it has none (an empty array).
    /// </summary>
    /// <exception cref="Snapshot.SnapshotException">The device cannot be snapshotted (the default).</exception>
    byte[] CaptureState() => throw Snapshot.SnapshotException.DeviceNotSupported(Name);

    /// <summary>
    /// Takes back what <see cref="CaptureState"/> returned, before the transport activates the device again on restore.
    /// The bytes come from a file: check every field (<see cref="Snapshot.SnapshotStateReader"/> does) and throw
    /// <see cref="Snapshot.SnapshotException"/> for what does not fit.
    /// </summary>
    /// <exception cref="Snapshot.SnapshotException">The state is malformed, or the device cannot be snapshotted (the default).</exception>
    void RestoreState(ReadOnlyMemory<byte> state) => throw Snapshot.SnapshotException.DeviceNotSupported(Name);
}
