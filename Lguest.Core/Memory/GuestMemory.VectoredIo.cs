using System.Runtime.InteropServices;
using Lguest.Interop;

namespace Lguest.Memory;

// Vectored I/O straight between a host file descriptor and guest buffers: the data never passes
// through a managed copy, and the iovecs are built on the stack, so a block or net request costs no
// allocation. Each buffer is bounds-checked when its iovec is built.
public sealed unsafe partial class GuestMemory
{
    private const int IovBatch = Libc.IovMax;

    /// <summary>
    /// Reads from <paramref name="file"/> at <paramref name="offset"/> into <paramref name="buffers"/>
    /// (preadv), looping over short reads. Returns the bytes read, fewer than asked only at end of file.
    /// </summary>
    /// <exception cref="GuestMemoryException">A buffer is outside guest RAM.</exception>
    /// <exception cref="IOException">The host read failed.</exception>
    public long ReadFromFile(SafeHandle file, long offset, ReadOnlySpan<GuestBuffer> buffers) =>
        TransferAll(file, offset, buffers, write: false);

    /// <summary>
    /// Writes <paramref name="buffers"/> to <paramref name="file"/> at <paramref name="offset"/>
    /// (pwritev), looping over short writes. Returns the bytes written, which is all of them.
    /// </summary>
    /// <exception cref="GuestMemoryException">A buffer is outside guest RAM.</exception>
    /// <exception cref="IOException">The host write failed.</exception>
    public long WriteToFile(SafeHandle file, long offset, ReadOnlySpan<GuestBuffer> buffers) =>
        TransferAll(file, offset, buffers, write: true);

    /// <summary>
    /// One readv from a stream or packet descriptor (a tap) into <paramref name="buffers"/>.
    /// Returns false when the descriptor is non-blocking and has nothing to read.
    /// </summary>
    /// <exception cref="IOException">The host read failed.</exception>
    public bool TryReadFrom(SafeHandle fd, ReadOnlySpan<GuestBuffer> buffers, out int bytesRead)
    {
        nint n = TransferOnce(fd, -1, buffers, write: false, out int errno);
        bytesRead = (int)Math.Max(n, 0);
        return n >= 0 || (errno == Libc.EAGAIN ? false : throw HostIoFailed("readv", errno));
    }

    /// <summary>
    /// One writev of <paramref name="buffers"/> to a stream or packet descriptor (a tap).
    /// Returns false when the descriptor is non-blocking and cannot take the data now.
    /// </summary>
    /// <exception cref="IOException">The host write failed.</exception>
    public bool TryWriteTo(SafeHandle fd, ReadOnlySpan<GuestBuffer> buffers, out int bytesWritten)
    {
        nint n = TransferOnce(fd, -1, buffers, write: true, out int errno);
        bytesWritten = (int)Math.Max(n, 0);
        return n >= 0 || (errno == Libc.EAGAIN ? false : throw HostIoFailed("writev", errno));
    }

    /// <summary>
    /// One readv into <paramref name="buffers"/> followed by <paramref name="suffix"/>, host bytes the
    /// caller owns. A device reading packets gives a one-byte suffix to learn that a packet was larger
    /// than the guest's buffers: a tap returns only the bytes it copied, so a packet that filled the
    /// buffers exactly and one that was cut are otherwise the same. Returns false when the descriptor
    /// is non-blocking and has nothing to read.
    /// </summary>
    /// <exception cref="ArgumentException">More buffers than one readv takes before the suffix.</exception>
    /// <exception cref="GuestMemoryException">A buffer is outside guest RAM.</exception>
    /// <exception cref="IOException">The host read failed.</exception>
    public bool TryReadFrom(SafeHandle fd, ReadOnlySpan<GuestBuffer> buffers, Span<byte> suffix, out int bytesRead)
    {
        if (buffers.Length > IovBatch - 1)
            throw new ArgumentException($"at most {IovBatch - 1} buffers come before a suffix in one readv", nameof(buffers));
        int count = buffers.Length + 1;
        Libc.IoVec* vectors = stackalloc Libc.IoVec[count];
        nint n;
        fixed (byte* tail = suffix)
        {
            for (int i = 0; i < buffers.Length; i++)
            {
                GuestBuffer b = buffers[i];
                vectors[i].Base = Translate(b.Address, b.Length);
                vectors[i].Length = b.Length;
            }
            vectors[buffers.Length].Base = tail;
            vectors[buffers.Length].Length = (nuint)suffix.Length;
            // Safety: the suffix is pinned by fixed for the call; every guest iovec was translated and
            // bounds-checked above and the mapping outlives the call.
            n = Libc.Readv(fd, vectors, count);
        }
        int errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        bytesRead = (int)Math.Max(n, 0);
        return n >= 0 || (errno == Libc.EAGAIN ? false : throw HostIoFailed("readv", errno));
    }

    /// <summary>
    /// One writev of <paramref name="prefix"/>, host bytes the caller owns, followed by
    /// <paramref name="buffers"/>, to a packet descriptor (a tap). A device sends a header it copied out
    /// of guest memory and checked this way, so the guest cannot change it between the check and the
    /// write. Returns false when the descriptor is non-blocking and cannot take the data now.
    /// </summary>
    /// <exception cref="ArgumentException">More buffers than one writev takes after the prefix.</exception>
    /// <exception cref="GuestMemoryException">A buffer is outside guest RAM.</exception>
    /// <exception cref="IOException">The host write failed.</exception>
    public bool TryWriteTo(SafeHandle fd, ReadOnlySpan<byte> prefix, ReadOnlySpan<GuestBuffer> buffers, out int bytesWritten)
    {
        if (buffers.Length > IovBatch - 1)
            throw new ArgumentException($"at most {IovBatch - 1} buffers follow a prefix in one writev", nameof(buffers));
        int count = buffers.Length + 1;
        Libc.IoVec* vectors = stackalloc Libc.IoVec[count];
        nint n;
        fixed (byte* head = prefix)
        {
            vectors[0].Base = head;
            vectors[0].Length = (nuint)prefix.Length;
            for (int i = 0; i < buffers.Length; i++)
            {
                GuestBuffer b = buffers[i];
                vectors[i + 1].Base = Translate(b.Address, b.Length);
                vectors[i + 1].Length = b.Length;
            }
            // Safety: the prefix is pinned by fixed for the call; every guest iovec was translated and
            // bounds-checked above and the mapping outlives the call.
            n = Libc.Writev(fd, vectors, count);
        }
        int errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        bytesWritten = (int)Math.Max(n, 0);
        return n >= 0 || (errno == Libc.EAGAIN ? false : throw HostIoFailed("writev", errno));
    }

    private long TransferAll(SafeHandle file, long offset, ReadOnlySpan<GuestBuffer> buffers, bool write)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        long done = 0;
        int first = 0;
        uint skip = 0; // bytes of buffers[first] already transferred
        while (first < buffers.Length)
        {
            nint n = TransferOnce(file, offset + done, buffers[first..], write, out int errno, skip);
            if (n < 0)
            {
                if (errno == Libc.EINTR)
                    continue;
                throw HostIoFailed(write ? "pwritev" : "preadv", errno);
            }
            if (n == 0)
            {
                if (write)
                    throw HostIoFailed("pwritev", 28 /* ENOSPC: a write that makes no progress */);
                break; // end of file
            }
            done += n;
            // Advance past what was transferred; a short transfer resumes mid-buffer.
            ulong left = (ulong)n;
            while (first < buffers.Length && left >= buffers[first].Length - skip)
            {
                left -= buffers[first].Length - skip;
                skip = 0;
                first++;
            }
            skip += (uint)left;
        }
        return done;
    }

    private nint TransferOnce(SafeHandle fd, long offset, ReadOnlySpan<GuestBuffer> buffers, bool write, out int errno, uint skipFirst = 0)
    {
        int count = Math.Min(buffers.Length, IovBatch);
        Libc.IoVec* vectors = stackalloc Libc.IoVec[count];
        for (int i = 0; i < count; i++)
        {
            GuestBuffer b = buffers[i];
            uint skip = i == 0 ? skipFirst : 0;
            vectors[i].Base = Translate(b.Address, b.Length) + skip;
            vectors[i].Length = b.Length - skip;
        }
        // Safety: every iovec was translated and bounds-checked above and the mapping outlives the call.
        nint n = (write, offset >= 0) switch
        {
            (false, true) => Libc.Preadv(fd, vectors, count, offset),
            (true, true) => Libc.Pwritev(fd, vectors, count, offset),
            (false, false) => Libc.Readv(fd, vectors, count),
            (true, false) => Libc.Writev(fd, vectors, count),
        };
        errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        return n;
    }

    private static IOException HostIoFailed(string call, int errno) =>
        new($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
}
