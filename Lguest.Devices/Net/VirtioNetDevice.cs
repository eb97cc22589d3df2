using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// A virtio network card (virtio 1.2 §5.1) on a tap: receiveq1 (queue 0) and transmitq1 (queue 1),
/// each served by its own worker thread, frames moving between the tap and guest memory with one
/// readv or writev and their virtio_net_hdr_v1 passed through, so the checksum and segmentation
/// offloads the driver accepts are the tap's (TUNSETOFFLOAD follows the driver's GUEST_* bits).
/// Configuration: the MAC address (VIRTIO_NET_F_MAC) and a link that is always up (VIRTIO_NET_F_STATUS).
/// </summary>
/// <remarks>
/// Two workers rather than one poll loop over the tap and both queues: a TCP stream moves data one
/// way and acknowledgements the other, and two threads run both directions at once on two cores;
/// each ring then has exactly one thread, as <see cref="Vring"/> requires, and each worker sleeps on
/// only what can unblock it (the receiver on the tap, or on the receive queue when it has no buffers;
/// the transmitter on the transmit queue, or on the tap when its send buffer is full). The device does
/// not own the tap: whoever opened it (the factory, across reboots) closes it after the device is reset.
/// See the folder's README for the threat model.
/// </remarks>
public sealed class VirtioNetDevice : VirtioDevice
{
    /// <summary>The configuration space: struct virtio_net_config's mac and status (§5.1.4); later fields belong to features not offered.</summary>
    public const int ConfigurationSize = 8;

    /// <summary>The receive queue's index.</summary>
    public const int ReceiveQueue = 0;

    /// <summary>The transmit queue's index.</summary>
    public const int TransmitQueue = 1;

    private const int StatusOffset = 6;

    private readonly GuestMemory _memory;
    private readonly TapDevice _tap;
    private readonly int _tapMtu;
    private readonly byte[] _config = new byte[ConfigurationSize];
    private readonly ushort[] _queueSizes;
    private readonly TimeSpan _maxPollTime;
    private readonly bool _transmitOnVcpu;
    private readonly Lock _lock = new();
    private NetReceiver? _receiver; // the activation's: kept across a pause with the receive buffers it holds

    /// <summary>Creates the card on an open tap.</summary>
    /// <param name="memory">The guest's RAM.</param>
    /// <param name="tap">The tap, created (and configured on the host side) by the caller, who keeps ownership.</param>
    /// <param name="mac">The guest's MAC address.</param>
    /// <param name="tapMtu">The tap's MTU, read where the tap was created: sizes the receive buffers a frame needs without TSO.</param>
    /// <param name="options">Offloads, mergeable buffers, queue size, name.</param>
    /// <param name="logger">Where drops and activations go.</param>
    internal VirtioNetDevice(GuestMemory memory, TapDevice tap, MacAddress mac, int tapMtu, VirtioNetOptions options, ILogger<VirtioNetDevice>? logger = null)
        : base(options?.Name ?? "net", logger)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(tap);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _memory = memory;
        _tap = tap;
        _tapMtu = tapMtu;
        Mac = mac;
        _queueSizes = [options.QueueSize, options.QueueSize];
        _maxPollTime = options.MaxPollTime;
        _transmitOnVcpu = options.TransmitOnVcpu;
        DeviceFeatures = VirtioNetNegotiation.Offered(options) | VirtioFeatures.Version1;
        mac.CopyTo(_config);
        _config[StatusOffset] = (byte)VirtioNetFeatures.StatusLinkUp;
    }

    /// <summary>The guest's MAC address, as the configuration space reports it.</summary>
    public MacAddress Mac { get; private set; }

    /// <summary>The tap's interface name on the host.</summary>
    public string TapName => _tap.Name;

    /// <summary>Frames and bytes moved, drops by reason: live figures, for tests and monitoring.</summary>
    public VirtioNetCounters Counters { get; } = new();

    /// <inheritdoc />
    public override VirtioDeviceType DeviceType => VirtioDeviceType.Net;

    /// <inheritdoc />
    public override ulong DeviceFeatures { get; }

    /// <inheritdoc />
    public override IReadOnlyList<ushort> QueueMaxSizes => _queueSizes;

    /// <inheritdoc />
    public override int ConfigSize => ConfigurationSize;

    // The MAC address and status never change: the generation stays the base's 0.

    /// <inheritdoc />
    public override void ReadConfig(int offset, Span<byte> data)
    {
        data.Clear();
        if (offset >= 0 && offset < _config.Length)
        {
            int n = Math.Min(data.Length, _config.Length - offset);
            _config.AsSpan(offset, n).CopyTo(data);
        }
    }

    // Writes are ignored (the base's default): with VIRTIO_F_VERSION_1 the MAC address is read-only to the driver
    // (§5.1.4.2: it MUST NOT write it), and so is the status.

    /// <summary>
    /// For a snapshot: the MAC address the guest read. Frames in flight are not kept: the transmitter sent or returned
    /// what it held before the pause, and received frames not yet delivered are lost as on a wire.
    /// </summary>
    public override byte[] CaptureState()
    {
        var writer = new Snapshot.SnapshotStateWriter();
        writer.WriteRaw(_config.AsSpan(0, MacAddress.Length));
        return writer.ToArray();
    }

    /// <summary>
    /// Takes a snapshot's state: the card keeps the MAC address the guest knows (a clone on another tap answers to the
    /// same address, each in its own network).
    /// </summary>
    /// <exception cref="Snapshot.SnapshotException">The state is malformed.</exception>
    public override void RestoreState(ReadOnlyMemory<byte> state)
    {
        MacAddress mac = DecodeState(state, Name);
        mac.CopyTo(_config);
        Mac = mac;
    }

    // The card's record: the MAC address, and nothing after it.
    internal static MacAddress DecodeState(ReadOnlyMemory<byte> state, string name)
    {
        var reader = new Snapshot.SnapshotStateReader(state, $"{name}'s state");
        ReadOnlySpan<byte> mac = reader.ReadRaw(MacAddress.Length).Span;
        reader.RequireEnd();
        return new MacAddress(mac);
    }

    /// <inheritdoc />
    /// <exception cref="BadDriverException">The driver accepted a feature without one it requires (§5.1.3.1).</exception>
    protected override void OnActivate(VirtioActivation activation, DeviceWorkers workers)
    {
        ArgumentNullException.ThrowIfNull(activation);
        ArgumentNullException.ThrowIfNull(workers);
        ulong features = activation.Features;
        if (VirtioNetNegotiation.DependencyError(features) is string error)
            throw new BadDriverException(Name, error);
        TunOffloads offloads = VirtioNetNegotiation.TapOffloads(features);
        _tap.SetOffloads(offloads);
        int frameLimit = VirtioNetNegotiation.ReceiveFrameLimit(features, _tapMtu);
        Logger.Activated(Name, features, offloads, (features & VirtioNetFeatures.MergeableRxBuffers) != 0 ? "mergeable" : "one-chain", frameLimit);

        NetReceiver? receiver = activation.Queues.Count > ReceiveQueue && activation.Queues[ReceiveQueue] is { } rx
            ? new NetReceiver(_memory, rx, activation.Transport, _tap, features, frameLimit, Counters, Name, Logger)
            : null;
        lock (_lock)
            _receiver = receiver;
        StartWorkers(activation, workers, receiver);
    }

    /// <summary>
    /// Serves the paused activation's queues again with the same receiver: the receive buffers it had taken from the
    /// ring are still its own (a fresh receiver would lose them, and after a few pauses the guest would have none left
    /// to receive into). The tap's offloads stay as the activation set them.
    /// </summary>
    protected override void OnResume(VirtioActivation activation, DeviceWorkers workers)
    {
        ArgumentNullException.ThrowIfNull(activation);
        ArgumentNullException.ThrowIfNull(workers);
        NetReceiver? receiver;
        lock (_lock)
            receiver = _receiver;
        StartWorkers(activation, workers, receiver);
    }

    // The receiver (if the driver enabled receiveq1) and a transmitter on transmitq1, each on a worker of its own.
    private void StartWorkers(VirtioActivation activation, DeviceWorkers workers, NetReceiver? receiver)
    {
        if (receiver is not null)
            workers.Start(activation.Queues[ReceiveQueue]!.Ring.Name, () => receiver.Run(workers.Stop));
        if (activation.Queues.Count > TransmitQueue && activation.Queues[TransmitQueue] is { } tx)
        {
            var transmitter = new NetTransmitter(_memory, tx, activation.Transport, _tap, activation.Features, Counters, workers.Stop, Name, Logger,
                PollWindow.ForWorker(_maxPollTime)) { ServesOnVcpu = _transmitOnVcpu };
            if (_transmitOnVcpu)
                workers.ServeNotificationsInline(tx, transmitter.ServeNotification);
            workers.Start(tx.Ring.Name, transmitter.Run);
        }
    }

    /// <inheritdoc />
    protected override void OnReset(VirtioActivation? previous)
    {
        // The held receive buffers go with the activation: the driver has given its rings up.
        lock (_lock)
            _receiver = null;
        if (previous is not null)
            Logger.Stopped(Name, Counters);
    }
}
