using System.Runtime.InteropServices;
using Lguest.Devices.Interop;

namespace Lguest.Devices;

/// <summary>
/// The transfers a block queue would make with one blocking call each (a batch's groups on the notifying vCPU, the
/// worker's write groups on an image that takes no non-blocking buffered writes), made with one <c>io_submit</c> for
/// all. On a buffered image Linux's native AIO does each read or write inside that call, in order, as
/// <c>preadv2</c>/<c>pwritev</c> would (a read with RWF_NOWAIT still refuses at once what the page cache cannot
/// answer): the same work, one system call instead of one per transfer, and no other thread, no task work (io_uring
/// would send the submitting thread task work; a vCPU must not get any). A system call costs 1-2 µs of this host's
/// CPU under load, more than a 4 KiB copy (bench/README.md, issue 20's eighth pass). Every request taken is complete
/// when <see cref="Submit"/> returns, whatever the file: it waits for each completion, so no I/O outlives it.
/// </summary>
/// <remarks>Used by one thread at a time (the queue's owner). Nothing is allocated per batch.</remarks>
internal sealed unsafe class BlockDirectBatch : IDisposable
{
    /// <summary>The result of a transfer the kernel did not take (the batch stopped before it): do it another way.</summary>
    public const long NotTaken = long.MinValue;

    private const int EINTR = 4;

    private readonly ulong _context;
    private readonly int _capacity;
    private readonly Iocb* _iocbs;
    private readonly Iocb** _pointers;
    private readonly IoEvent* _events;
    private readonly int[] _leads;
    private readonly long[] _results;
    private readonly bool _userRing;
    private int _count;
    private bool _disposed;

    private BlockDirectBatch(ulong context, int capacity)
    {
        _context = context;
        _capacity = capacity;
        _iocbs = (Iocb*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(Iocb));
        _pointers = (Iocb**)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(Iocb*));
        _events = (IoEvent*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(IoEvent));
        _leads = new int[capacity];
        _results = new long[capacity];
        for (int i = 0; i < capacity; i++)
            _pointers[i] = _iocbs + i;
        var ring = (AioRing*)context;
        _userRing = ring->Magic == AioRing.MagicValue && ring->IncompatibleFeatures == 0 && ring->HeaderLength == (uint)sizeof(AioRing);
    }

    /// <summary>struct aio_ring (fs/aio.c): the header of a context's completion ring, mapped at the context's address.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct AioRing
    {
        public const uint MagicValue = 0xa10a10a1; // AIO_RING_MAGIC
        public uint Id;
        public uint Entries;     // nr
        public uint Head;        // the next event to read: advanced by whoever reads
        public uint Tail;        // past the last event written: advanced by the kernel
        public uint Magic;
        public uint CompatibleFeatures;
        public uint IncompatibleFeatures;
        public uint HeaderLength;
    }

    /// <summary>
    /// A batch of up to <paramref name="capacity"/> transfers, or null where native AIO is missing (another
    /// architecture, a kernel without it, the host's aio-max-nr reached): the caller makes its calls one by one.
    /// </summary>
    public static BlockDirectBatch? TryCreate(int capacity, out int errno)
    {
        errno = 0;
        if (!LinuxAio.Supported)
            return null;
        errno = LinuxAio.Setup((uint)capacity, out ulong context);
        return errno == 0 ? new BlockDirectBatch(context, capacity) : null;
    }

    /// <summary>Transfers added since the last <see cref="Clear"/>.</summary>
    public int Count => _count;

    /// <summary>Whether another transfer fits.</summary>
    public bool HasRoom => _count < _capacity;

    /// <summary>io_submit calls made so far.</summary>
    public long Submissions { get; private set; }

    /// <summary>
    /// Adds a transfer of <paramref name="count"/> iovecs at <paramref name="offset"/>, known by <paramref name="lead"/>
    /// (the caller's group). The iovecs must stay put until <see cref="Submit"/> returns. Call only when <see cref="HasRoom"/>.
    /// </summary>
    public void Add(int lead, bool write, int fd, IoVec* vectors, int count, long offset, int rwFlags)
    {
        int i = _count++;
        _iocbs[i] = new Iocb
        {
            Data = (ulong)i,
            Opcode = write ? LinuxAio.CmdPwritev : LinuxAio.CmdPreadv,
            Fd = (uint)fd,
            Buffer = (ulong)vectors,
            Bytes = (ulong)count,
            Offset = offset,
            RwFlags = rwFlags,
        };
        _leads[i] = lead;
        _results[i] = NotTaken;
    }

    /// <summary>The group of the <paramref name="index"/>th transfer.</summary>
    public int Lead(int index) => _leads[index];

    /// <summary>
    /// The <paramref name="index"/>th transfer's result after <see cref="Submit"/>: bytes moved, minus an errno, or
    /// <see cref="NotTaken"/>.
    /// </summary>
    public long Result(int index) => _results[index];

    /// <summary>
    /// Hands every transfer added to the kernel, in order, and waits for each one taken to complete. Returns 0, or the
    /// errno that stopped the kernel taking the rest (their results stay <see cref="NotTaken"/>).
    /// </summary>
    public int Submit()
    {
        int taken = 0, errno = 0;
        while (taken < _count)
        {
            long rc = LinuxAio.Submit(_context, _count - taken, _pointers + taken);
            Submissions++;
            if (rc == -EINTR)
                continue;
            if (rc <= 0)
            {
                errno = (int)-rc;
                break; // the entry at 'taken' was refused as it was read (e.g. RWF_NOWAIT on tmpfs): the rest are the caller's
            }
            taken += (int)rc;
        }
        // Each taken request must be complete before the caller's buffers are touched again: on a buffered file each one
        // completed inside io_submit already and this only collects them (from the ring's own memory where it can: no
        // system call); anything still running is waited for.
        for (int reaped = TakeFromRing(taken); reaped < taken;)
        {
            long n = LinuxAio.GetEvents(_context, taken - reaped, taken - reaped, _events);
            if (n == -EINTR)
                continue;
            if (n < 0)
                throw new IOException($"io_getevents failed: {Marshal.GetPInvokeErrorMessage((int)-n)}", (int)-n);
            for (int k = 0; k < n; k++)
            {
                ulong index = _events[k].Data;
                if (index < (ulong)taken)
                    _results[(int)index] = _events[k].Result;
            }
            reaped += (int)n;
        }
        return errno;
    }

    // The completions already in the context's ring, read where the kernel wrote them (as libaio's user_io_getevents
    // and fio do): the context is the address of the ring's header, mapped in this process. Only a ring whose header is
    // the one this code knows (its magic, no incompatible feature) is read so; otherwise io_getevents reads it.
    private int TakeFromRing(int taken)
    {
        if (!_userRing)
            return 0;
        var ring = (AioRing*)_context;
        uint size = ring->Entries;
        uint head = Volatile.Read(ref ring->Head);
        uint tail = Volatile.Read(ref ring->Tail); // acquire: the events before it are written
        int reaped = 0;
        var events = (IoEvent*)(ring + 1);
        while (reaped < taken && head != tail && head < size)
        {
            ulong index = events[head].Data;
            if (index < (ulong)taken)
                _results[(int)index] = events[head].Result;
            head = head + 1 == size ? 0 : head + 1;
            reaped++;
        }
        Volatile.Write(ref ring->Head, head); // release: the events are read before the kernel may reuse them
        return reaped;
    }

    /// <summary>Empties the batch for the next one.</summary>
    public void Clear() => _count = 0;

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _ = LinuxAio.Destroy(_context);
        NativeMemory.Free(_iocbs);
        NativeMemory.Free(_pointers);
        NativeMemory.Free(_events);
    }
}
