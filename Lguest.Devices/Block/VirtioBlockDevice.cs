using System.Buffers.Binary;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Devices;

/// <summary>
/// A virtio block device (virtio 1.2 §5.2) backed by a disk image file: one or more request queues,
/// each served by its own worker thread with many requests in flight on io_uring (or one at a time with
/// blocking calls), I/O straight between the file and guest memory, IN, OUT, FLUSH (fdatasync), GET_ID,
/// DISCARD and WRITE_ZEROES (fallocate), and every request checked against the disk's capacity.
/// </summary>
/// <remarks>
/// The device does not own the file handle: whoever opened it (the factory, across reboots) closes it
/// after the device has been reset. See the folder's README for the threat model.
/// </remarks>
public sealed class VirtioBlockDevice : VirtioDevice
{
    /// <summary>The sector size of the capacity and of request offsets, fixed by the specification.</summary>
    public const int SectorSize = 512;

    /// <summary>
    /// The configuration space exposed: struct virtio_blk_config up to and including
    /// write_zeroes_may_unmap and its padding (virtio 1.2 §5.2.4); fields of features not offered read 0.
    /// </summary>
    public const int ConfigurationSize = 60;

    // Offsets in struct virtio_blk_config.
    private const int CapacityOffset = 0;
    private const int SegMaxOffset = 12;
    private const int BlockSizeOffset = 20;
    private const int NumQueuesOffset = 34;
    private const int MaxDiscardSectorsOffset = 36;
    private const int MaxDiscardSegOffset = 40;
    private const int DiscardSectorAlignmentOffset = 44;
    private const int MaxWriteZeroesSectorsOffset = 48;
    private const int MaxWriteZeroesSegOffset = 52;
    private const int WriteZeroesMayUnmapOffset = 56;

    private readonly GuestMemory _memory;
    private readonly SafeFileHandle _file;
    private readonly bool _readOnly;
    private readonly byte[] _id;
    private readonly byte[] _config = new byte[ConfigurationSize];
    private readonly ushort[] _queueSizes;
    private readonly TimeSpan _maxPollTime;
    private readonly VirtioBlockIoEngine _engine;
    private readonly int _maxInFlight;
    private readonly bool _merge;
    private readonly bool _serveOnVcpu;

    /// <summary>Creates the device over an open disk image.</summary>
    /// <param name="memory">The guest's RAM, where requests point.</param>
    /// <param name="file">The image, opened for reading (and writing unless <see cref="VirtioBlockOptions.ReadOnly"/>).</param>
    /// <param name="options">The validated options (path, read-only, serial, queue size, name).</param>
    /// <param name="logger">Where refusals and host I/O errors go.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="IOException">The image's size cannot be read.</exception>
    public VirtioBlockDevice(GuestMemory memory, SafeFileHandle file, VirtioBlockOptions options, ILogger<VirtioBlockDevice>? logger = null)
        : base(options?.Name ?? "block", logger)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _memory = memory;
        _file = file;
        _readOnly = options.ReadOnly;
        _id = options.IdBytes();
        _queueSizes = Enumerable.Repeat(options.QueueSize, options.NumQueues).ToArray();
        _maxPollTime = options.MaxPollTime;
        _engine = options.IoEngine;
        _maxInFlight = options.MaxInFlight;
        _merge = options.MergeRequests;
        _serveOnVcpu = options.ServeOnVcpu;

        // A tail shorter than a sector is not addressable by the guest.
        Capacity = (ulong)RandomAccess.GetLength(file) / SectorSize;
        BinaryPrimitives.WriteUInt64LittleEndian(_config.AsSpan(CapacityOffset), Capacity);
        // Linux adds a descriptor for the header and one for the status to the data segments, and
        // without indirect descriptors the whole chain must fit the queue.
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(SegMaxOffset), (uint)options.QueueSize - 2);
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(BlockSizeOffset), SectorSize);

        if (options.NumQueues > 1)
            BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(NumQueuesOffset), options.NumQueues);
        bool discard = options.Discard && !_readOnly;
        if (discard)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(MaxDiscardSectorsOffset), BlockRequestQueue.MaxDiscardSectors);
            BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(MaxDiscardSegOffset), BlockRequestQueue.MaxRanges);
            BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(DiscardSectorAlignmentOffset), BlockRequestQueue.DiscardSectorAlignment);
            BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(MaxWriteZeroesSectorsOffset), BlockRequestQueue.MaxWriteZeroesSectors);
            BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(MaxWriteZeroesSegOffset), BlockRequestQueue.MaxRanges);
            // WRITE_ZEROES with the unmap flag may punch a hole: it reads back as zeroes all the same.
            _config[WriteZeroesMayUnmapOffset] = 1;
        }

        DeviceFeatures = VirtioBlockFeatures.SegMax | VirtioBlockFeatures.BlockSize | VirtioBlockFeatures.Flush
            | (_readOnly ? VirtioBlockFeatures.ReadOnly : 0)
            | (options.NumQueues > 1 ? VirtioBlockFeatures.MultiQueue : 0)
            | (discard ? VirtioBlockFeatures.Discard | VirtioBlockFeatures.WriteZeroes : 0)
            | VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;
        Logger.Opened(Name, options.Path, Capacity, _readOnly ? ", read-only" : "");
    }

    /// <inheritdoc />
    public override VirtioDeviceType DeviceType => VirtioDeviceType.Block;

    /// <inheritdoc />
    public override ulong DeviceFeatures { get; }

    /// <inheritdoc />
    public override IReadOnlyList<ushort> QueueMaxSizes => _queueSizes;

    /// <inheritdoc />
    public override int ConfigSize => ConfigurationSize;

    // The capacity never changes while the device lives, so the generation stays the base's 0.

    /// <summary>The disk's size in 512-byte sectors.</summary>
    public ulong Capacity { get; }

    /// <summary>Whether the disk refuses writes.</summary>
    public bool IsReadOnly => _readOnly;

    /// <inheritdoc />
    public override void ReadConfig(int offset, Span<byte> data)
    {
        data.Clear();
        if (offset >= 0 && offset < _config.Length)
        {
            ReadOnlySpan<byte> source = _config.AsSpan(offset);
            source[..Math.Min(source.Length, data.Length)].CopyTo(data);
        }
    }

    // Every field is read-only without VIRTIO_BLK_F_CONFIG_WCE (not offered): the base ignores writes.

    /// <summary>
    /// For a snapshot: the disk's capacity and whether it was read-only, which the guest has taken in. The disk's
    /// contents are the file's: every request was completed (and written, as far as the guest asked) before the pause.
    /// </summary>
    public override byte[] CaptureState()
    {
        var writer = new Snapshot.SnapshotStateWriter();
        writer.WriteUInt64(Capacity);
        writer.WriteBoolean(_readOnly);
        return writer.ToArray();
    }

    /// <summary>Takes a snapshot's state: the disk given now must be the size the guest knew, and as writable.</summary>
    /// <exception cref="Snapshot.SnapshotException">The state is malformed, or the disk differs.</exception>
    public override void RestoreState(ReadOnlyMemory<byte> state)
    {
        var reader = new Snapshot.SnapshotStateReader(state, $"{Name}'s state");
        ulong capacity = reader.ReadUInt64();
        bool readOnly = reader.ReadBoolean();
        reader.RequireEnd();
        if (capacity != Capacity)
            throw new Snapshot.SnapshotException(Snapshot.SnapshotRefusal.Incompatible,
                $"{Name}: the snapshot's disk holds {capacity} sectors; the disk given holds {Capacity}");
        if (readOnly != _readOnly)
            throw new Snapshot.SnapshotException(Snapshot.SnapshotRefusal.Incompatible,
                $"{Name}: the snapshot's disk was {(readOnly ? "read-only" : "writable")}; the disk given is {(_readOnly ? "read-only" : "writable")}");
    }

    /// <inheritdoc />
    protected override void OnActivate(VirtioActivation activation, DeviceWorkers workers)
    {
        ArgumentNullException.ThrowIfNull(activation);
        ArgumentNullException.ThrowIfNull(workers);
        ulong negotiated = activation.Features;
        var settings = new BlockQueueSettings((negotiated & VirtioBlockFeatures.Discard) != 0,
            (negotiated & VirtioBlockFeatures.WriteZeroes) != 0, _engine, _maxInFlight, _merge, _serveOnVcpu);
        // One worker per queue the driver enabled (with MQ, Linux enables num_queues of them).
        foreach (Virtqueue? queue in activation.Queues)
        {
            if (queue is null)
                continue;
            var requests = new BlockRequestQueue(_memory, _file, Capacity, _readOnly, _id, Name, Logger, queue, activation.Transport,
                PollWindow.ForWorker(_maxPollTime), settings);
            // A queue that could open neither io_uring nor its threads serves one request at a time on its worker.
            if (requests.ServesOnVcpu)
                workers.ServeNotificationsInline(queue, requests.ServeNotification);
            workers.Start(queue.Ring.Name, () =>
            {
                using (requests)
                    requests.Run(workers.Stop, () => workers.IsPausing);
            });
        }
    }
}
