using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Lguest.Devices.Interop;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Devices;

/// <summary>
/// Serves one block request queue (virtio 1.2 §5.2.6): pops every available request and does its I/O
/// straight between the image and guest memory, either on the queue's io_uring (many requests in
/// flight, completions published in batches: BlockRequestQueue.InFlight.cs), on a pool of I/O threads
/// (the same, with blocking calls on those threads: BlockRequestQueue.Threads.cs) or with blocking
/// preadv/pwritev (one at a time: <see cref="ServeAvailable"/>), adds each to the used ring, publishes
/// once per batch and decides once whether to interrupt. After the first batch nothing on either path
/// allocates: the chain, the scatter-gather scratch array and the in-flight slots are reused.
/// </summary>
/// <remarks>Driven by one thread at a time: the queue's worker, or a test calling <see cref="ServeAvailable"/>.</remarks>
internal sealed partial class BlockRequestQueue : IDisposable
{
    /// <summary>struct virtio_blk_req's header: le32 type, le32 reserved, le64 sector.</summary>
    public const int HeaderSize = 16;

    private const int SectorShift = 9;
    private const ulong SectorSize = 1UL << SectorShift;

    private readonly GuestMemory _memory;
    private readonly SafeFileHandle _file;
    private readonly ulong _capacity;
    private readonly bool _readOnly;
    private readonly byte[] _id;
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly Virtqueue _queue;
    private readonly IVirtioTransport _transport;
    private readonly PollWindow _poll;
    private readonly DescriptorChain _chain = new();
    // One entry per descriptor a chain can have: the Vring refuses chains (and indirect tables)
    // longer than the queue size, so a slice of a chain always fits.
    private readonly GuestBuffer[] _scatter;
    private readonly BlockQueueSettings _settings;
    private Refusal _warned;

    public BlockRequestQueue(GuestMemory memory, SafeFileHandle file, ulong capacity, bool readOnly, byte[] id,
        string name, ILogger logger, Virtqueue queue, IVirtioTransport transport, PollWindow? poll = null,
        BlockQueueSettings? settings = null)
    {
        _memory = memory;
        _file = file;
        _capacity = capacity;
        _readOnly = readOnly;
        _id = id;
        _name = name;
        _logger = logger;
        _queue = queue;
        _transport = transport;
        _poll = poll ?? new PollWindow(TimeSpan.Zero);
        _scatter = new GuestBuffer[queue.Ring.Size];
        _settings = settings ?? BlockQueueSettings.Plain;
        if (_settings.Engine == VirtioBlockIoEngine.IoUring)
            OpenRing();
        else if (_settings.Engine == VirtioBlockIoEngine.Threads)
            OpenThreads();
    }

    /// <summary>Whether IN, OUT and FLUSH go through io_uring (false: blocking calls on the worker).</summary>
    public bool UsesIoUring => _ring is not null;

    [Flags]
    private enum Refusal
    {
        None = 0,
        ShortHeader = 1,
        NoStatus = 2,
        PartialSector = 4,
        OutOfRange = 8,
        ReadOnly = 16,
        Unsupported = 32,
        BadRange = 64,
    }

    /// <summary>
    /// Serves the queue until <paramref name="stop"/> is signalled; between batches the worker polls
    /// the ring for its poll window before it sleeps.
    /// </summary>
    /// <param name="stop">Ends the worker.</param>
    /// <param name="pausing">
    /// Read once <paramref name="stop"/> is signalled: true when the stop is a pause (<see cref="DeviceWorkers.IsPausing"/>),
    /// so requests still in flight are completed into the rings, which the next workers serve on; otherwise (a reset)
    /// their results are dropped. Null: always a reset.
    /// </param>
    public void Run(Hypervisor.EventNotifier stop, Func<bool>? pausing = null)
    {
        _pausing = pausing;
        if (_ring is not null || _pool is not null)
        {
            EnterOwner();
            try
            {
                if (_ring is not null)
                    RunInFlight(stop);
                else
                    RunThreads(stop);
            }
            finally
            {
                ExitOwner();
            }
            return;
        }
        Vring ring = _queue.Ring;
        while (ring.WaitForAvailable(_queue.Notifier, stop, _poll))
            ServeAvailable();
    }

    /// <summary>
    /// One batch: serves up to a queue's worth of available requests, publishes their used
    /// elements together, and interrupts the driver once if it wants it. Returns the requests served.
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke the ring's rules.</exception>
    public int ServeAvailable()
    {
        Vring ring = _queue.Ring;
        int served = 0;
        // Bounded by the queue size so a driver adding requests as fast as they complete cannot
        // keep its earlier completions unpublished for ever.
        while (served < ring.Size && ring.TryPop(_chain))
        {
            ring.AddUsed(_chain.Head, Serve(_chain, inFlight: false, out _));
            served++;
        }
        if (served != 0)
        {
            ring.PublishUsed();
            if (ring.NeedsInterrupt())
                _transport.SignalUsedBuffers(_queue.Index);
        }
        return served;
    }

    // Returns the used length: the bytes written into the chain's writable buffers. With inFlight, IN,
    // OUT and FLUSH may go to the io_uring instead (submitted true): the completion answers them later.
    private uint Serve(DescriptorChain chain, bool inFlight, out bool submitted)
    {
        submitted = false;
        // The status byte is the last byte of the last non-empty writable buffer. Without one the
        // request cannot be answered at all; it is returned with nothing written.
        ulong writable = chain.WritableLength;
        if (writable == 0)
        {
            Warn(Refusal.NoStatus, out LogLevel level);
            _logger.NoStatusByte(level, _name);
            return 0;
        }
        ulong dataIn = writable - 1;

        // Read the header once into a local copy: it may span descriptors, and the guest can rewrite it.
        Span<byte> header = stackalloc byte[HeaderSize];
        if (chain.CopyFromReadable(_memory, 0, header) < HeaderSize)
            return Finish(chain, Refuse(Refusal.ShortHeader, uint.MaxValue, 0, "header shorter than 16 bytes"), 1);
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        ulong dataOut = chain.ReadableLength - HeaderSize;

        switch (type)
        {
            case VirtioBlockRequestType.In:
            {
                if (!CheckRange(type, sector, dataIn))
                    return Finish(chain, VirtioBlockStatus.IoError, 1);
                int count = DescriptorChain.Slice(chain.Writable, 0, dataIn, _scatter);
                uint usedOnSuccess = (uint)Math.Min(dataIn + 1, uint.MaxValue);
                Started started = inFlight ? TryStartTransfer(chain, type, sector, dataIn, count, usedOnSuccess) : Started.No;
                if (started == Started.Done)
                    return Finish(chain, VirtioBlockStatus.Ok, usedOnSuccess);
                if (started == Started.InFlight)
                {
                    submitted = true;
                    return 0;
                }
                byte status = Transfer(type, sector, dataIn, count, write: false);
                return Finish(chain, status, status == VirtioBlockStatus.Ok ? (uint)Math.Min(dataIn + 1, uint.MaxValue) : 1);
            }
            case VirtioBlockRequestType.Out:
            {
                if (_readOnly)
                    return Finish(chain, Refuse(Refusal.ReadOnly, type, sector, "write to a read-only disk"), 1);
                if (!CheckRange(type, sector, dataOut))
                    return Finish(chain, VirtioBlockStatus.IoError, 1);
                int count = DescriptorChain.Slice(chain.Readable, HeaderSize, dataOut, _scatter);
                Started started = inFlight ? TryStartTransfer(chain, type, sector, dataOut, count, 1) : Started.No;
                if (started == Started.Done)
                    return Finish(chain, VirtioBlockStatus.Ok, 1);
                if (started == Started.InFlight)
                {
                    submitted = true;
                    return 0;
                }
                return Finish(chain, Transfer(type, sector, dataOut, count, write: true), 1);
            }
            case VirtioBlockRequestType.Flush:
            {
                if (inFlight && TrySubmitFlush(chain))
                {
                    submitted = true;
                    return 0;
                }
                // The request completes only once the host says the data is on stable storage.
                int errno = FileSync.DataSync(_file);
                if (errno != 0)
                    _logger.HostIoFailed(_name, "fdatasync", 0, Marshal.GetPInvokeErrorMessage(errno));
                return Finish(chain, errno == 0 ? VirtioBlockStatus.Ok : VirtioBlockStatus.IoError, 1);
            }
            case VirtioBlockRequestType.GetId:
            {
                int length = (int)Math.Min(dataIn, (ulong)_id.Length);
                int copied = chain.CopyToWritable(_memory, 0, _id.AsSpan(0, length));
                return Finish(chain, VirtioBlockStatus.Ok, (uint)copied + 1);
            }
            case VirtioBlockRequestType.Discard when _settings.Discard:
            case VirtioBlockRequestType.WriteZeroes when _settings.WriteZeroes:
            {
                if (_readOnly)
                    return Finish(chain, Refuse(Refusal.ReadOnly, type, sector, "discard or write-zeroes on a read-only disk"), 1);
                return Finish(chain, ServeRanges(chain, type, dataOut), 1);
            }
            default:
                return Finish(chain, Refuse(Refusal.Unsupported, type, sector, "unsupported request type"), 1);
        }
    }

    // A data transfer must cover whole sectors inside the disk: never a short write, never one past
    // the end (which would grow the image), whatever sector number the guest wrote.
    private bool CheckRange(uint type, ulong sector, ulong length)
    {
        if ((length & (SectorSize - 1)) != 0)
        {
            Refuse(Refusal.PartialSector, type, sector, $"{length} data bytes is not a whole number of sectors");
            return false;
        }
        // sector <= capacity first, so neither the subtraction nor sector * 512 later can wrap.
        if (sector > _capacity || length >> SectorShift > _capacity - sector)
        {
            Refuse(Refusal.OutOfRange, type, sector, $"{length >> SectorShift} sector(s) do not fit a disk of {_capacity}");
            return false;
        }
        return true;
    }

    private byte Transfer(uint type, ulong sector, ulong length, int count, bool write)
    {
        long offset = (long)(sector << SectorShift);
        ReadOnlySpan<GuestBuffer> buffers = _scatter.AsSpan(0, count);
        try
        {
            long done = write ? _memory.WriteToFile(_file, offset, buffers) : _memory.ReadFromFile(_file, offset, buffers);
            if ((ulong)done != length)
            {
                // The image shrank under us (someone else truncated it): the read came up short.
                _logger.HostIoFailed(_name, write ? "pwritev" : "preadv", offset, $"{done} of {length} bytes transferred");
                return VirtioBlockStatus.IoError;
            }
        }
        catch (IOException e)
        {
            _logger.HostIoFailed(_name, write ? "pwritev" : "preadv", offset, e.Message);
            return VirtioBlockStatus.IoError;
        }
        _logger.Request(_name, type, sector, length, VirtioBlockStatus.Ok);
        return VirtioBlockStatus.Ok;
    }

    private uint Finish(DescriptorChain chain, byte status, uint written)
    {
        _memory.Write(StatusAddress(chain), status);
        return written;
    }

    // The last byte of the last writable buffer that has one (a zero-length buffer may trail it); Serve
    // made sure there is one.
    private static GuestAddress StatusAddress(DescriptorChain chain)
    {
        ReadOnlySpan<GuestBuffer> buffers = chain.Writable;
        for (int i = buffers.Length - 1; i >= 0; i--)
        {
            GuestBuffer b = buffers[i];
            if (b.Length != 0)
                return b.Address.Offset(b.Length - 1);
        }
        throw new InvalidOperationException("a request without a writable byte has no status");
    }

    private byte Refuse(Refusal kind, uint type, ulong sector, string reason)
    {
        byte status = kind == Refusal.Unsupported ? VirtioBlockStatus.Unsupported : VirtioBlockStatus.IoError;
        Warn(kind, out LogLevel level);
        _logger.RequestRefused(level, _name, type, sector, status, reason);
        return status;
    }

    private void Warn(Refusal kind, out LogLevel level)
    {
        level = (_warned & kind) == 0 ? LogLevel.Warning : LogLevel.Debug;
        _warned |= kind;
    }
}
