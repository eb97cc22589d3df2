using System.Runtime.InteropServices;

namespace Lguest.Cli;

/// <summary>
/// A write-only stream over one of this process's file descriptors (the console's fd 1) that writes with write(2), at
/// the offset the descriptor's open file keeps: the one stderr moves too when both go to one file (<c>&gt; log 2&gt;&amp;1</c>),
/// and the one O_APPEND keeps at the end.
/// </summary>
/// <remarks>
/// A FileStream over a regular file's descriptor keeps its own position and writes with pwrite(2) there, which never
/// moves the shared offset: lguest's stderr lines (written with write(2) at that offset) then overwrote the guest's
/// console output in the file, and the guest's output overwrote them (SnapshotInBedTests lost 25 of the guest's lines
/// and a snapshot line took their place). A terminal or a pipe has no position; there both behave alike.
/// </remarks>
internal sealed partial class DescriptorOutputStream(int descriptor) : Stream
{
    private const int Eintr = 4;        // EINTR, <asm-generic/errno-base.h>
    private const int Eagain = 11;      // EAGAIN: a descriptor someone set O_NONBLOCK on (a shared terminal)
    private const short PollOut = 0x4;  // POLLOUT, <asm-generic/poll.h>

    /// <inheritdoc />
    public override bool CanRead => false;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => true;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Writes all of <paramref name="buffer"/>, waiting for room where the descriptor is non-blocking.</summary>
    /// <exception cref="IOException">The descriptor refused the write (a closed pipe: EPIPE, a full disk).</exception>
    public override unsafe void Write(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                nint written = SystemWrite(descriptor, start + done, (nuint)(buffer.Length - done));
                if (written >= 0)
                {
                    done += (int)written;
                    continue;
                }
                int error = Marshal.GetLastPInvokeError();
                if (error == Eintr)
                    continue;
                if (error == Eagain)
                {
                    // Nothing a guest wrote is dropped: wait until the descriptor takes more.
                    var wait = new PollDescriptor { Descriptor = descriptor, Events = PollOut };
                    if (Poll(&wait, 1, -1) >= 0 || Marshal.GetLastPInvokeError() == Eintr)
                        continue;
                    error = Marshal.GetLastPInvokeError();
                }
                throw new IOException($"write to descriptor {descriptor}: {Marshal.GetPInvokeErrorMessage(error)}", error);
            }
        }
    }

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc />
    public override void WriteByte(byte value) => Write([value]);

    /// <summary>Nothing to do: every write went to the descriptor at once.</summary>
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint SystemWrite(int descriptor, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollDescriptor* descriptors, nuint count, int timeoutMilliseconds);

    // struct pollfd, <asm-generic/poll.h>.
    [StructLayout(LayoutKind.Sequential)]
    private struct PollDescriptor
    {
        public int Descriptor;
        public short Events;
        public short ReturnedEvents;
    }
}
