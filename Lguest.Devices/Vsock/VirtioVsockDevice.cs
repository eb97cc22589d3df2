using System.Buffers.Binary;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Devices;

/// <summary>
/// A virtio socket device (virtio 1.2 §5.10): stream connections between the guest (AF_VSOCK, its CID in the
/// configuration) and the host (CID 2), whose host ends are this process's programs (<see cref="VsockHost"/>) or
/// Firecracker-style Unix sockets. One worker thread serves rx (queue 0) and tx (queue 1); the event queue (2)
/// takes one event, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, after a restore from a snapshot.
/// </summary>
/// <remarks>See the folder's README for the protocol, the bounds and the threat model.</remarks>
public sealed class VirtioVsockDevice : VirtioDevice
{
    /// <summary>The receive queue (device to driver).</summary>
    public const int ReceiveQueue = 0;

    /// <summary>The transmit queue (driver to device).</summary>
    public const int TransmitQueue = 1;

    /// <summary>The event queue.</summary>
    public const int EventQueue = 2;

    /// <summary>struct virtio_vsock_config: guest_cid, a little-endian 64-bit field (§5.10.4).</summary>
    public const int ConfigurationSize = 8;

    /// <summary>
    /// struct virtio_vsock_event's id for VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (§5.10.6.7): the guest resets every
    /// connection and reads guest_cid again.
    /// </summary>
    public const uint TransportResetEvent = 0;

    // struct virtio_vsock_event: le32 id.
    private const int EventSize = 4;

    private readonly GuestMemory _memory;
    private readonly VsockHost _host;
    private readonly ushort[] _queueSizes;
    private readonly bool _serveOnVcpu;
    private readonly Lock _lock = new();
    private VsockMuxer? _muxer;
    private VsockWorker? _worker;
    private bool _transportResetOwed;

    /// <summary>Creates the device on its host side.</summary>
    /// <param name="memory">The guest's RAM.</param>
    /// <param name="host">The host side: the guest's CID, the programs' connections, the Unix socket.</param>
    /// <param name="options">Queue size and name (the CID and socket path are the host's).</param>
    /// <param name="logger">Where the device logs.</param>
    public VirtioVsockDevice(GuestMemory memory, VsockHost host, VirtioVsockOptions? options = null, ILogger<VirtioVsockDevice>? logger = null)
        : base(ValidName(options), logger)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(host);
        options ??= new VirtioVsockOptions();
        _memory = memory;
        _host = host;
        _queueSizes = [options.QueueSize, options.QueueSize, options.QueueSize];
        _serveOnVcpu = options.ServeOnVcpu;
    }

    /// <summary>The guest's CID, as the configuration space reports it.</summary>
    public ulong GuestCid => _host.GuestCid;

    /// <inheritdoc />
    public override VirtioDeviceType DeviceType => VirtioDeviceType.Vsock;

    /// <summary>
    /// The ring features and VIRTIO_F_VERSION_1; no device feature: without VIRTIO_VSOCK_F_SEQPACKET only stream
    /// sockets exist (§5.10.3).
    /// </summary>
    public override ulong DeviceFeatures => VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;

    /// <inheritdoc />
    public override IReadOnlyList<ushort> QueueMaxSizes => _queueSizes;

    /// <inheritdoc />
    public override int ConfigSize => ConfigurationSize;

    /// <summary>The open connections of the running driver (0 when it is not running).</summary>
    public int ConnectionCount
    {
        get
        {
            lock (_lock)
                return _muxer?.ConnectionCount ?? 0;
        }
    }

    /// <summary>guest_cid (§5.10.4); it never changes, and writes to it are ignored (the base's default).</summary>
    public override void ReadConfig(int offset, Span<byte> data)
    {
        Span<byte> config = stackalloc byte[ConfigurationSize];
        BinaryPrimitives.WriteUInt64LittleEndian(config, _host.GuestCid);
        data.Clear();
        if (offset >= 0 && offset < ConfigurationSize)
            config[offset..Math.Min(ConfigurationSize, offset + data.Length)].CopyTo(data);
    }

    /// <inheritdoc />
    /// <exception cref="BadDriverException">The driver left the receive or transmit queue disabled.</exception>
    protected override void OnActivate(VirtioActivation activation, DeviceWorkers workers)
    {
        IReadOnlyList<Virtqueue?> queues = activation.Queues;
        Virtqueue? rx = queues.Count > ReceiveQueue ? queues[ReceiveQueue] : null;
        Virtqueue? tx = queues.Count > TransmitQueue ? queues[TransmitQueue] : null;
        if (rx is null || tx is null)
            throw new BadDriverException(Name, "the vsock driver must enable the rx and tx queues");

        var muxer = new VsockMuxer(_host.GuestCid, _host, _host.Clock, Name, Logger);
        var worker = new VsockWorker(rx, tx, new VsockReceiver(_memory, rx, activation.Transport, muxer),
            new VsockTransmitter(_memory, tx, activation.Transport, muxer), muxer);
        lock (_lock)
        {
            _muxer = muxer;
            _worker = worker;
        }
        if (_transportResetOwed)
        {
            _transportResetOwed = false;
            SendTransportReset(queues.Count > EventQueue ? queues[EventQueue] : null, activation.Transport);
        }
        Start(worker, workers);
        _host.Attach(muxer);
    }

    /// <summary>
    /// Serves the same connections again after a pause: the paused activation's muxer and worker (a fresh
    /// <see cref="OnActivate"/> would drop every connection), on the resumed workers' thread. While paused nothing
    /// moves: programs' writes wait on their credit, and the guest's packets wait in its rings.
    /// </summary>
    protected override void OnResume(VirtioActivation activation, DeviceWorkers workers)
    {
        VsockWorker? worker;
        lock (_lock)
            worker = _worker;
        if (worker is null)
        {
            OnActivate(activation, workers);
            return;
        }
        Start(worker, workers);
    }

    // The worker's thread, and the transmit queue's notifications served on the notifying vCPU (ServeOnVcpu).
    private void Start(VsockWorker worker, DeviceWorkers workers)
    {
        if (_serveOnVcpu)
            workers.ServeNotificationsInline(worker.Transmit, worker.ServeNotification);
        workers.Start(Name, () => worker.Run(workers.Stop));
    }

    /// <summary>
    /// Ends every connection of the driver that ran (its workers have stopped): host programs see a reset, as
    /// the guest is gone (it reset its device, rebooted, or the launcher is stopping).
    /// </summary>
    protected override void OnReset(VirtioActivation? previous)
    {
        VsockMuxer? muxer;
        lock (_lock)
        {
            muxer = _muxer;
            _muxer = null;
            _worker = null;
        }
        if (muxer is null)
            return;
        _host.Detach(muxer);
        muxer.Dispose();
    }

    /// <summary>
    /// For a snapshot: the guest's CID. Connections are not kept: their host ends (sockets, programs) belong to this
    /// process and cannot follow the guest into another, so a restore resets them, as Firecracker does.
    /// </summary>
    public override byte[] CaptureState()
    {
        var writer = new Snapshot.SnapshotStateWriter();
        writer.WriteUInt64(_host.GuestCid);
        return writer.ToArray();
    }

    /// <summary>
    /// Takes a snapshot's state: when the device is activated again, the guest is sent VIRTIO_VSOCK_EVENT_TRANSPORT_RESET
    /// on the event queue, so it resets the connections it had (their host ends are gone) and reads guest_cid again,
    /// which may be another than the snapshot's (a clone given its own CID).
    /// </summary>
    /// <exception cref="Snapshot.SnapshotException">The state is malformed.</exception>
    public override void RestoreState(ReadOnlyMemory<byte> state)
    {
        var reader = new Snapshot.SnapshotStateReader(state, $"{Name}'s state");
        _ = reader.ReadUInt64(); // the CID the guest had: the reset makes it read the one configured now
        reader.RequireEnd();
        _transportResetOwed = true;
    }

    // One event into the first buffer the driver left on the event queue (Linux keeps eight there).
    private void SendTransportReset(Virtqueue? events, IVirtioTransport transport)
    {
        if (events is null)
        {
            Logger.TransportReset(Name, "not sent: the driver left the event queue disabled");
            return;
        }
        var chain = new DescriptorChain();
        if (!events.Ring.TryPop(chain))
        {
            Logger.TransportReset(Name, "not sent: no buffer on the event queue");
            return;
        }
        Span<byte> e = stackalloc byte[EventSize];
        BinaryPrimitives.WriteUInt32LittleEndian(e, TransportResetEvent);
        int written = chain.CopyToWritable(_memory, 0, e);
        events.Ring.Push(chain.Head, (uint)written);
        if (events.Ring.NeedsInterrupt())
            transport.SignalUsedBuffers(events.Index);
        Logger.TransportReset(Name, written == EventSize ? "sent" : "not sent: the event buffer is too small");
    }

    private static string ValidName(VirtioVsockOptions? options)
    {
        options ??= new VirtioVsockOptions();
        options.Validate();
        return options.Name ?? "vsock";
    }
}
