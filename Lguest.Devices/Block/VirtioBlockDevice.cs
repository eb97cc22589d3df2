using System.Buffers.Binary;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Devices;

/// <summary>
/// A virtio block device (virtio 1.2 §5.2) backed by a disk image file: one request queue served by
/// its own worker thread with vectored positional I/O between the file and guest memory, IN, OUT,
/// FLUSH (fdatasync) and GET_ID requests, and every request checked against the disk's capacity.
/// </summary>
/// <remarks>
/// The device does not own the file handle: whoever opened it (the factory, across reboots) closes it
/// after the device has been reset. See the folder's README for the threat model.
/// </remarks>
public sealed class VirtioBlockDevice : IVirtioDevice
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

    private readonly GuestMemory _memory;
    private readonly SafeFileHandle _file;
    private readonly bool _readOnly;
    private readonly byte[] _id;
    private readonly byte[] _config = new byte[ConfigurationSize];
    private readonly ushort[] _queueSizes;
    private readonly TimeSpan _maxPollTime;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private DeviceWorkers? _workers;

    /// <summary>Creates the device over an open disk image.</summary>
    /// <param name="memory">The guest's RAM, where requests point.</param>
    /// <param name="file">The image, opened for reading (and writing unless <see cref="VirtioBlockOptions.ReadOnly"/>).</param>
    /// <param name="options">The validated options (path, read-only, serial, queue size, name).</param>
    /// <param name="logger">Where refusals and host I/O errors go.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="IOException">The image's size cannot be read.</exception>
    public VirtioBlockDevice(GuestMemory memory, SafeFileHandle file, VirtioBlockOptions options, ILogger<VirtioBlockDevice>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _memory = memory;
        _file = file;
        _readOnly = options.ReadOnly;
        _id = options.IdBytes();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        Name = options.Name ?? "block";
        _queueSizes = [options.QueueSize];
        _maxPollTime = options.MaxPollTime;

        // A tail shorter than a sector is not addressable by the guest.
        Capacity = (ulong)RandomAccess.GetLength(file) / SectorSize;
        BinaryPrimitives.WriteUInt64LittleEndian(_config.AsSpan(CapacityOffset), Capacity);
        // Linux adds a descriptor for the header and one for the status to the data segments, and
        // without indirect descriptors the whole chain must fit the queue.
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(SegMaxOffset), (uint)options.QueueSize - 2);
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(BlockSizeOffset), SectorSize);

        DeviceFeatures = VirtioBlockFeatures.SegMax | VirtioBlockFeatures.BlockSize | VirtioBlockFeatures.Flush
            | (_readOnly ? VirtioBlockFeatures.ReadOnly : 0)
            | VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;
        _logger.Opened(Name, options.Path, Capacity, _readOnly ? ", read-only" : "");
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public VirtioDeviceType DeviceType => VirtioDeviceType.Block;

    /// <inheritdoc />
    public ulong DeviceFeatures { get; }

    /// <inheritdoc />
    public IReadOnlyList<ushort> QueueMaxSizes => _queueSizes;

    /// <inheritdoc />
    public int ConfigSize => ConfigurationSize;

    /// <summary>The capacity never changes while the device lives, so the generation stays 0.</summary>
    public byte ConfigGeneration => 0;

    /// <summary>The disk's size in 512-byte sectors.</summary>
    public ulong Capacity { get; }

    /// <summary>Whether the disk refuses writes.</summary>
    public bool IsReadOnly => _readOnly;

    /// <inheritdoc />
    public void ReadConfig(int offset, Span<byte> data)
    {
        data.Clear();
        if (offset >= 0 && offset < _config.Length)
        {
            ReadOnlySpan<byte> source = _config.AsSpan(offset);
            source[..Math.Min(source.Length, data.Length)].CopyTo(data);
        }
    }

    /// <summary>Every field is read-only without VIRTIO_BLK_F_CONFIG_WCE (not offered): writes are ignored.</summary>
    public void WriteConfig(int offset, ReadOnlySpan<byte> data) => _logger.ConfigWriteIgnored(Name, offset, data.Length);

    /// <inheritdoc />
    public void Activate(VirtioActivation activation)
    {
        ArgumentNullException.ThrowIfNull(activation);
        Reset();
        var workers = new DeviceWorkers(Name, activation.Transport, _logger);
        if (activation.Queues.Count > 0 && activation.Queues[0] is { } queue)
        {
            var requests = new BlockRequestQueue(_memory, _file, Capacity, _readOnly, _id, Name, _logger, queue, activation.Transport,
                PollWindow.ForWorker(_maxPollTime));
            workers.Start(queue.Ring.Name, () => requests.Run(workers.Stop));
        }
        lock (_lock)
            _workers = workers;
    }

    /// <inheritdoc />
    public void Reset()
    {
        DeviceWorkers? workers;
        lock (_lock)
        {
            workers = _workers;
            _workers = null;
        }
        workers?.StopAndJoin();
    }
}
