using System.Buffers.Binary;
using System.Text;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// A virtio file-system device (virtio 1.2 §5.11) sharing a host folder with the guest: the tag in the
/// configuration space, a high-priority queue and one request queue, each served by its own worker thread
/// with an in-process FUSE server. The guest mounts it with <c>mount -t virtiofs TAG DIR</c>. Names are
/// resolved by the kernel beneath the folder (openat2 with RESOLVE_BENEATH), never by string checks; the
/// tables of nodes and open files are bounded. See the folder's README for the threat model.
/// </summary>
public sealed class VirtioFsDevice : VirtioDevice, IDisposable
{
    /// <summary>The configuration space: struct virtio_fs_config's tag[36] and le32 num_request_queues.</summary>
    public const int ConfigurationSize = 40;

    private const int HighPriorityQueue = 0;
    private const int RequestQueue = 1;
    private const int RequestQueuesOffset = VirtioFsOptions.MaxTagBytes; // num_request_queues, after the tag

    private readonly GuestMemory _memory;
    private readonly FuseSession _session;
    private readonly bool _ownsFileSystem;
    private readonly byte[] _config = new byte[ConfigurationSize];
    private readonly ushort[] _queueSizes;

    /// <summary>Creates the device and opens the shared folder (closed by <see cref="Dispose"/>).</summary>
    /// <param name="memory">The guest's RAM, where requests point.</param>
    /// <param name="options">The folder, tag and limits.</param>
    /// <param name="logger">Where the device logs.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="SharedDirectoryException">The folder cannot be opened.</exception>
    public VirtioFsDevice(GuestMemory memory, VirtioFsOptions options, ILogger<VirtioFsDevice>? logger = null)
        : this(memory, OpenFileSystem(options, logger), options, logger)
    {
        _ownsFileSystem = true;
    }

    internal VirtioFsDevice(GuestMemory memory, IFileSystem fileSystem, VirtioFsOptions options, ILogger? logger)
        : base(options?.Name ?? "fs", logger)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _memory = memory;
        Tag = options.Tag;
        _session = new FuseSession(fileSystem, Name, Logger);
        _queueSizes = [options.QueueSize, options.QueueSize];
        Encoding.UTF8.GetBytes(options.Tag, _config);
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(RequestQueuesOffset), 1);
    }

    /// <summary>The tag the guest mounts the share by.</summary>
    public string Tag { get; }

    /// <inheritdoc />
    public override VirtioDeviceType DeviceType => VirtioDeviceType.FileSystem;

    /// <summary>The ring features and VIRTIO_F_VERSION_1; VIRTIO_FS_F_NOTIFICATION is not offered.</summary>
    public override ulong DeviceFeatures => VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;

    /// <summary>Two queues: hiprio (0) and one request queue (1).</summary>
    public override IReadOnlyList<ushort> QueueMaxSizes => _queueSizes;

    /// <inheritdoc />
    public override int ConfigSize => ConfigurationSize;

    /// <summary>Reads struct virtio_fs_config; every field is read-only (§5.11.4), so writes take the base's default (ignored).</summary>
    public override void ReadConfig(int offset, Span<byte> data)
    {
        data.Clear();
        if (offset >= 0 && offset < _config.Length)
        {
            ReadOnlySpan<byte> source = _config.AsSpan(offset);
            source[..Math.Min(source.Length, data.Length)].CopyTo(data);
        }
    }

    /// <summary>Resets the device and closes the shared folder if this device opened it.</summary>
    public void Dispose()
    {
        Reset();
        if (_ownsFileSystem)
            _session.FileSystem.Dispose();
    }

    /// <inheritdoc />
    protected override void OnActivate(VirtioActivation activation, DeviceWorkers workers)
    {
        ArgumentNullException.ThrowIfNull(activation);
        ArgumentNullException.ThrowIfNull(workers);
        for (int index = HighPriorityQueue; index <= RequestQueue && index < activation.Queues.Count; index++)
        {
            if (activation.Queues[index] is not { } queue)
                continue;
            var server = new FuseServer(_session, _memory, queue.Ring.Size);
            // The request queue polls briefly for the next request (a guest process's requests come one after
            // another); FORGETs on hiprio are not worth a spinning CPU.
            PollWindow? poll = index == RequestQueue ? PollWindow.ForWorker(PollWindow.DefaultMax) : null;
            IVirtioTransport transport = activation.Transport;
            workers.Start(queue.Ring.Name, () => Serve(queue, server, transport, workers.Stop, poll));
        }
    }

    /// <summary>
    /// For a snapshot: whether the guest's FUSE session was open, and the nodes and open files it holds, by their paths
    /// beneath the share's folder (see <c>PassthroughFileSystem.Snapshot.cs</c>). A restore finds them again in the
    /// folder given then (the same, or a copy), so the guest's mount, its cached names and its open files go on working.
    /// </summary>
    public override byte[] CaptureState()
    {
        var writer = new Snapshot.SnapshotStateWriter();
        writer.WriteBoolean(_session.IsInitialized);
        _session.FileSystem.CaptureState(writer);
        return writer.ToArray();
    }

    /// <summary>Takes a snapshot's state, before the device is activated again.</summary>
    /// <exception cref="Snapshot.SnapshotException">The state is malformed or exceeds this share's caps.</exception>
    public override void RestoreState(ReadOnlyMemory<byte> state)
    {
        var reader = new Snapshot.SnapshotStateReader(state, $"{Name}'s state");
        bool initialized = reader.ReadBoolean();
        _session.FileSystem.RestoreState(reader);
        reader.RequireEnd();
        if (initialized)
            _session.Start();
    }

    /// <summary>The guest's FUSE session ends with its activation: every node and open file it held goes.</summary>
    protected override void OnReset(VirtioActivation? previous)
    {
        if (previous is not null)
            _session.End();
    }

    internal static IFileSystem OpenFileSystem(VirtioFsOptions options, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        IFileSystem fileSystem = new PassthroughFileSystem(options.HostDirectory, options.MaxInodes, options.MaxHandles,
            options.CacheTimeout, options.Name ?? "fs", logger);
        return options.ReadOnly ? new ReadOnlyFileSystem(fileSystem) : fileSystem;
    }

    // One queue's worker: each request is answered as soon as it is served (FUSE requests come from guest
    // processes waiting on them one by one; a slow one, an fsync, must not hold back the replies before it).
    private static void Serve(Virtqueue queue, FuseServer server, IVirtioTransport transport, Hypervisor.EventNotifier stop, PollWindow? poll)
    {
        var chain = new DescriptorChain();
        Vring ring = queue.Ring;
        while (ring.WaitForAvailable(queue.Notifier, stop, poll))
        {
            // A queue's worth at most before sleeping again: a driver adding requests as fast as they are
            // served still lets the stop signal through.
            for (int served = 0; served < ring.Size && ring.TryPop(chain); served++)
            {
                ring.Push(chain.Head, server.Serve(chain));
                if (ring.NeedsInterrupt())
                    transport.SignalUsedBuffers(queue.Index);
            }
        }
    }
}
