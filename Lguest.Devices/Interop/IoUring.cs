using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// One io_uring instance driven directly through its system calls (no liburing): the submission and
/// completion rings and the entry array mapped from the kernel, entries filled in place, submitted
/// and waited for in one io_uring_enter. Used by one thread at a time (a block queue's worker).
/// </summary>
/// <remarks>
/// The rings are shared with the kernel: the kernel reads the submission tail and writes the
/// completion tail, so those loads and stores use acquire/release ordering, as liburing's do. The
/// kernel's values (head positions, offsets) are checked where they index our mappings.
/// </remarks>
internal sealed unsafe class IoUring : IDisposable
{
    private readonly int _fd;
    private readonly nint _sqRing;
    private readonly nuint _sqRingSize;
    private readonly nint _cqRing;
    private readonly nuint _cqRingSize;
    private readonly IoUringSqe* _sqes;
    private readonly nuint _sqesSize;
    private readonly uint* _sqHead;
    private readonly uint* _sqTail;
    private readonly uint* _sqArray;
    private readonly uint _sqMask;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly IoUringCqe* _cqes;
    private readonly uint _cqMask;
    private uint _tail;      // our copy of the submission tail, ahead of the shared one by _unsubmitted
    private uint _unsubmitted;
    private bool _disposed;

    private IoUring(int fd, in IoUringParams p, nint sqRing, nuint sqRingSize, nint cqRing, nuint cqRingSize, nint sqes, nuint sqesSize)
    {
        _fd = fd;
        _sqRing = sqRing;
        _sqRingSize = sqRingSize;
        _cqRing = cqRing;
        _cqRingSize = cqRingSize;
        _sqes = (IoUringSqe*)sqes;
        _sqesSize = sqesSize;
        _sqHead = (uint*)(sqRing + (nint)p.SqOff.Head);
        _sqTail = (uint*)(sqRing + (nint)p.SqOff.Tail);
        _sqArray = (uint*)(sqRing + (nint)p.SqOff.Array);
        _sqMask = *(uint*)(sqRing + (nint)p.SqOff.RingMask);
        _cqHead = (uint*)(cqRing + (nint)p.CqOff.Head);
        _cqTail = (uint*)(cqRing + (nint)p.CqOff.Tail);
        _cqes = (IoUringCqe*)(cqRing + (nint)p.CqOff.Cqes);
        _cqMask = *(uint*)(cqRing + (nint)p.CqOff.RingMask);
        SubmissionEntries = p.SqEntries;
        _tail = Volatile.Read(ref *_sqTail);
    }

    /// <summary>The submission ring's size (the kernel rounds the request up to a power of two).</summary>
    public uint SubmissionEntries { get; }

    /// <summary>
    /// Sets up a ring of at least <paramref name="entries"/> submission entries. Returns null with the
    /// errno when the kernel has no io_uring, forbids it (io_uring_disabled, a seccomp filter) or lacks a
    /// feature this class relies on (one mapping for both rings, no dropped completions: Linux 5.5).
    /// </summary>
    public static IoUring? TryCreate(uint entries, out int errno) => TryCreate(entries, 0, out errno);

    /// <summary>
    /// As <see cref="TryCreate(uint, out int)"/>, with io_uring_setup(2) flags (IORING_SETUP_*): a kernel that does not
    /// know one answers EINVAL, which the caller may take as the cue to try with fewer.
    /// </summary>
    public static IoUring? TryCreate(uint entries, uint setupFlags, out int errno)
    {
        IoUringParams p = default;
        p.Flags = setupFlags;
        int fd = IoUringLibc.Setup(entries, &p);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }
        const uint needed = IoUringLibc.FeatSingleMmap | IoUringLibc.FeatNoDrop;
        if ((p.Features & needed) != needed)
        {
            _ = IoUringLibc.Close(fd);
            errno = 95; // EOPNOTSUPP: too old a kernel
            return null;
        }
        // One mapping holds both rings (IORING_FEAT_SINGLE_MMAP): as large as the larger of the two.
        nuint sqSize = p.SqOff.Array + p.SqEntries * sizeof(uint);
        nuint cqSize = p.CqOff.Cqes + p.CqEntries * (nuint)sizeof(IoUringCqe);
        nuint ringSize = Math.Max(sqSize, cqSize);
        const int prot = IoUringLibc.ProtRead | IoUringLibc.ProtWrite;
        const int flags = IoUringLibc.MapShared | IoUringLibc.MapPopulate;
        nint ring = IoUringLibc.Mmap(0, ringSize, prot, flags, fd, IoUringLibc.OffSqRing);
        if (ring == IoUringLibc.MapFailed)
        {
            errno = Marshal.GetLastPInvokeError();
            _ = IoUringLibc.Close(fd);
            return null;
        }
        nuint sqesSize = p.SqEntries * (nuint)sizeof(IoUringSqe);
        nint sqes = IoUringLibc.Mmap(0, sqesSize, prot, flags, fd, IoUringLibc.OffSqes);
        if (sqes == IoUringLibc.MapFailed)
        {
            errno = Marshal.GetLastPInvokeError();
            _ = IoUringLibc.Munmap(ring, ringSize);
            _ = IoUringLibc.Close(fd);
            return null;
        }
        errno = 0;
        return new IoUring(fd, p, ring, ringSize, ring, 0, sqes, sqesSize);
    }

    /// <summary>Entries the submission ring can still take (the kernel consumes them at each submit).</summary>
    public uint FreeSubmissionEntries => SubmissionEntries - (_tail - Volatile.Read(ref *_sqHead));

    /// <summary>
    /// The next submission entry, cleared, to fill in; it goes to the kernel at the next <see cref="Submit"/>.
    /// The caller keeps the entries it has not submitted within <see cref="FreeSubmissionEntries"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The submission ring is full.</exception>
    public ref IoUringSqe Next()
    {
        if (FreeSubmissionEntries == 0)
            throw new InvalidOperationException("io_uring submission ring is full");
        uint index = _tail & _sqMask;
        ref IoUringSqe sqe = ref _sqes[index];
        sqe = default;
        _sqArray[index] = index;
        _tail++;
        _unsubmitted++;
        return ref sqe;
    }

    /// <summary>
    /// Hands the entries filled since the last call to the kernel and, with <paramref name="waitFor"/>
    /// above 0, sleeps until that many completions are there. Returns 0, or the errno of a failure
    /// (EINTR is retried).
    /// </summary>
    public int Submit(uint waitFor)
    {
        // The entries must be visible before the tail that publishes them.
        Volatile.Write(ref *_sqTail, _tail);
        while (_unsubmitted != 0 || waitFor != 0)
        {
            uint flags = waitFor != 0 ? IoUringLibc.EnterGetEvents : 0;
            int n = IoUringLibc.Enter(_fd, _unsubmitted, waitFor, flags);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == IoUringLibc.EINTR)
                    continue;
                return errno;
            }
            // A bad entry still consumes its place (and completes with an error); n < asked only on
            // failure to take more, which the next call retries.
            _unsubmitted -= (uint)Math.Min(n, (int)_unsubmitted);
            waitFor = 0;
        }
        return 0;
    }

    /// <summary>Takes the oldest completion, if any, off the completion ring.</summary>
    public bool TryTake(out IoUringCqe completion)
    {
        uint head = *_cqHead;
        // The tail's acquire makes the entry's contents visible before we read them.
        if (head == Volatile.Read(ref *_cqTail))
        {
            completion = default;
            return false;
        }
        completion = _cqes[head & _cqMask];
        // Release: our read of the entry is done before the kernel may reuse its place.
        Volatile.Write(ref *_cqHead, head + 1);
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _ = IoUringLibc.Munmap((nint)_sqes, _sqesSize);
        _ = IoUringLibc.Munmap(_sqRing, _sqRingSize);
        if (_cqRingSize != 0)
            _ = IoUringLibc.Munmap(_cqRing, _cqRingSize);
        _ = IoUringLibc.Close(_fd);
    }
}
