using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// A virtio entropy device (virtio 1.2 §5.4): one request queue whose buffers the device fills from
/// the host's cryptographic random source, on its own worker thread. No features, no configuration.
/// </summary>
public sealed class VirtioRngDevice : VirtioDevice
{
    private readonly GuestMemory _memory;
    private readonly int _maxRequestBytes;
    private readonly ushort[] _queueSizes;

    /// <summary>Creates the device.</summary>
    /// <param name="memory">The guest's RAM.</param>
    /// <param name="options">Queue size, per-request limit, name; null for the defaults.</param>
    /// <param name="logger">Where the device logs.</param>
    public VirtioRngDevice(GuestMemory memory, VirtioRngOptions? options = null, ILogger<VirtioRngDevice>? logger = null)
        : base((options ?? new VirtioRngOptions()).Name ?? "rng", logger)
    {
        ArgumentNullException.ThrowIfNull(memory);
        options ??= new VirtioRngOptions();
        options.Validate();
        _memory = memory;
        _maxRequestBytes = options.MaxRequestBytes;
        _queueSizes = [options.QueueSize];
    }

    /// <inheritdoc />
    public override VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;

    /// <summary>Only the ring features and VIRTIO_F_VERSION_1 (§5.4.3: the device has none of its own).</summary>
    public override ulong DeviceFeatures => VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;

    /// <inheritdoc />
    public override IReadOnlyList<ushort> QueueMaxSizes => _queueSizes;

    /// <summary>For a snapshot: nothing beyond the queue and guest memory (entropy is drawn fresh after a restore).</summary>
    public override byte[] CaptureState() => [];

    /// <summary>Takes a snapshot's (empty) state.</summary>
    /// <exception cref="Snapshot.SnapshotException">The state is not empty.</exception>
    public override void RestoreState(ReadOnlyMemory<byte> state) => new Snapshot.SnapshotStateReader(state, $"{Name}'s state").RequireEnd();

    /// <inheritdoc />
    protected override void OnActivate(VirtioActivation activation, DeviceWorkers workers)
    {
        ArgumentNullException.ThrowIfNull(activation);
        ArgumentNullException.ThrowIfNull(workers);
        // No configuration (§5.4.4): the base's empty one.
        if (activation.Queues.Count > 0 && activation.Queues[0] is { } queue)
        {
            var requests = new RngRequestQueue(_memory, queue, activation.Transport, _maxRequestBytes, Name, Logger);
            workers.Start(queue.Ring.Name, () => requests.Run(workers.Stop));
        }
    }
}
