using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;

namespace Lguest.Machine;

/// <summary>
/// The serial console's way out to the host: the UART, on a vCPU thread, appends each transmitted byte to a pipe
/// (<see cref="Sink"/>: a copy, no system call), and one background thread writes what the pipe holds to the host's
/// stream and flushes it once per batch. A vCPU then never waits for the host's terminal unless the guest is
/// <see cref="PauseThreshold"/> bytes ahead of it (then it waits, as on a serial line with flow control: nothing
/// is dropped). <see cref="Complete"/> writes out everything before returning. Lives for the whole run, across reboots.
/// </summary>
/// <remarks>
/// Whole lines go out in one write: the host's stream is often shared (a log, a CI console, a script that echoes
/// its own lines to the same terminal), and a line split across writes gets another writer's text in its middle.
/// The tail of a line the guest has not finished (a prompt, an echo of typed keys) waits at most
/// <see cref="PartialLineHold"/> for its newline, then goes out as it is.
/// </remarks>
internal sealed class SerialConsoleOutput : IDisposable
{
    /// <summary>Bytes the guest may be ahead of the host's output before its vCPU waits.</summary>
    public const int PauseThreshold = 64 * 1024;

    /// <summary>How long the tail of an unfinished line waits for its newline: short enough for a typist not to notice.</summary>
    public static readonly TimeSpan PartialLineHold = TimeSpan.FromMilliseconds(20);

    /// <summary>How often a held line is looked at again.</summary>
    private static readonly TimeSpan HoldPoll = TimeSpan.FromMilliseconds(10);

    /// <summary>A line longer than this goes out unfinished: no line waits past a pipe's atomic write size.</summary>
    private const int LongestHeldLine = 4096;

    private readonly Stream _output;
    private readonly Pipe _pipe = new(new PipeOptions(
        pauseWriterThreshold: PauseThreshold,
        resumeWriterThreshold: PauseThreshold / 2,
        readerScheduler: PipeScheduler.Inline,
        writerScheduler: PipeScheduler.Inline,
        useSynchronizationContext: false));
    private readonly Thread _thread;
    private readonly TimeSpan _partialLineHold;
    private readonly object _progress = new(); // Monitor: WaitWritten waits on it for the drain thread
    private long _given;   // bytes the guest handed to the sink (written by the vCPU threads, under the UART's lock)
    private long _written; // bytes the drain thread wrote out (or dropped once the host side broke)
    private bool _ended;   // the drain thread ended: nothing more will be written
    private int _completed;
    private bool _broken;

    public SerialConsoleOutput(Stream output)
        : this(output, PartialLineHold)
    {
    }

    /// <param name="output">The host's stream.</param>
    /// <param name="partialLineHold">How long an unfinished line waits for its newline (tests give it longer).</param>
    internal SerialConsoleOutput(Stream output, TimeSpan partialLineHold)
    {
        _output = output;
        _partialLineHold = partialLineHold;
        Sink = new PipeSink(_pipe.Writer, count => Interlocked.Add(ref _given, count));
        _thread = new Thread(Drain) { Name = "console output", IsBackground = true };
        _thread.Start();
    }

    /// <summary>What the UART writes to: every byte is kept, in order.</summary>
    public Stream Sink { get; }

    /// <summary>
    /// Releases a vCPU waiting for room (the boot is ending): what it wrote is already in the pipe and is still
    /// written out. Safe from any thread; a flush that starts later waits again.
    /// </summary>
    public void ReleaseWriters() => _pipe.Writer.CancelPendingFlush();

    /// <summary>
    /// Waits until everything the guest handed to <see cref="Sink"/> so far is written to the host's stream (an
    /// unfinished line after its <see cref="PartialLineHold"/>), at most <paramref name="timeout"/>; false when time
    /// ran out. Called once the vCPUs are parked (a pause): what the guest wrote before the pause is out before the
    /// pause is reported, so a snapshot's "written" line, or a SIGKILL after it, comes after the guest's last line.
    /// </summary>
    public bool WaitWritten(TimeSpan timeout)
    {
        long target = Interlocked.Read(ref _given);
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_progress)
        {
            while (_written < target && !_ended)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0 || !Monitor.Wait(_progress, TimeSpan.FromMilliseconds(left)))
                    return _written >= target || _ended;
            }
            return true;
        }
    }

    /// <summary>Writes out everything the guest wrote, then ends the thread. Idempotent.</summary>
    public void Complete()
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
            return;
        _pipe.Writer.Complete();
        _thread.Join();
    }

    public void Dispose() => Complete();

    private void Drain()
    {
        PipeReader reader = _pipe.Reader;
        long heldSince = 0;
        while (true)
        {
            ValueTask<ReadResult> pending = reader.ReadAsync();
            ReadResult result = pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
            ReadOnlySequence<byte> buffer = result.Buffer;
            SequencePosition writeUpTo = result.IsCompleted ? buffer.End : AfterLastNewline(buffer);
            ReadOnlySequence<byte> tail = buffer.Slice(writeUpTo);
            if (!tail.IsEmpty)
            {
                if (heldSince == 0)
                    heldSince = Stopwatch.GetTimestamp();
                if (tail.Length >= LongestHeldLine || Stopwatch.GetElapsedTime(heldSince) >= _partialLineHold)
                    (writeUpTo, tail) = (buffer.End, default);
            }
            Write(buffer.Slice(0, writeUpTo));
            if (tail.IsEmpty)
            {
                heldSince = 0;
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                    break;
                continue;
            }

            // An unfinished line: leave it unexamined so the next read returns at once, after the guest had a
            // moment to finish it (a sleep rather than a timed read: no timer for the runtime to start under seccomp).
            reader.AdvanceTo(writeUpTo);
            Thread.Sleep(HoldPoll);
        }
        reader.Complete();
        lock (_progress)
        {
            _ended = true;
            Monitor.PulseAll(_progress);
        }
    }

    private static SequencePosition AfterLastNewline(ReadOnlySequence<byte> buffer)
    {
        SequencePosition after = buffer.Start;
        SequenceReader<byte> lines = new(buffer);
        while (lines.TryAdvanceTo((byte)'\n'))
            after = lines.Position;
        return after;
    }

    private void Write(ReadOnlySequence<byte> bytes)
    {
        if (bytes.IsEmpty)
            return;
        try
        {
            WriteOut(bytes);
        }
        finally
        {
            // Written, or dropped on a broken host side: either way nothing more is to come of these bytes.
            lock (_progress)
            {
                _written += bytes.Length;
                Monitor.PulseAll(_progress);
            }
        }
    }

    private void WriteOut(ReadOnlySequence<byte> bytes)
    {
        if (_broken)
            return;
        try
        {
            foreach (ReadOnlyMemory<byte> segment in bytes)
                _output.Write(segment.Span);
            _output.Flush();
        }
        catch (IOException)
        {
            // The host side went away (a closed terminal or pipe): the guest's output is dropped from now on, as on a cut cable.
            _broken = true;
        }
        catch (ObjectDisposedException)
        {
            _broken = true;
        }
    }

    /// <summary>
    /// A write-only stream over the pipe's writer, without the allocation Stream.WriteByte makes by default; counts
    /// what it is given (<paramref name="given"/>) for <see cref="WaitWritten"/>.
    /// </summary>
    private sealed class PipeSink(PipeWriter writer, Action<int> given) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void WriteByte(byte value)
        {
            writer.GetSpan(1)[0] = value;
            writer.Advance(1);
            given(1);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            writer.Write(buffer);
            given(buffer.Length);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Flush()
        {
            try
            {
                // Commits the bytes for the drain thread, then waits only while the guest is PauseThreshold ahead;
                // ReleaseWriters ends that wait (IsCanceled), the bytes staying committed.
                ValueTask<FlushResult> flush = writer.FlushAsync();
                if (!flush.IsCompletedSuccessfully)
                    flush.AsTask().GetAwaiter().GetResult();
            }
            catch (InvalidOperationException)
            {
                // The output was completed (the run ended) under a late write: nothing left to do.
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
