using System.Buffers;
using System.IO.Pipelines;

namespace Lguest.Machine;

/// <summary>
/// The serial console's way out to the host: the UART, on a vCPU thread, appends each transmitted byte to a pipe
/// (<see cref="Sink"/>: a copy, no system call), and one background thread writes what the pipe holds to the host's
/// stream and flushes it once per batch. A vCPU then never waits for the host's terminal unless the guest is
/// <see cref="PauseThreshold"/> bytes ahead of it (then it waits, as on a serial line with flow control: nothing
/// is dropped). <see cref="Complete"/> writes out everything before returning. Lives for the whole run, across reboots.
/// </summary>
internal sealed class SerialConsoleOutput : IDisposable
{
    /// <summary>Bytes the guest may be ahead of the host's output before its vCPU waits.</summary>
    public const int PauseThreshold = 64 * 1024;

    private const int ChunkSize = 4096;

    private readonly Stream _output;
    private readonly Pipe _pipe = new(new PipeOptions(
        pauseWriterThreshold: PauseThreshold,
        resumeWriterThreshold: PauseThreshold / 2,
        readerScheduler: PipeScheduler.Inline,
        writerScheduler: PipeScheduler.Inline,
        useSynchronizationContext: false));
    private readonly Thread _thread;
    private int _completed;

    public SerialConsoleOutput(Stream output)
    {
        _output = output;
        Sink = new PipeSink(_pipe.Writer);
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
        bool broken = false;
        while (true)
        {
            ValueTask<ReadResult> pending = reader.ReadAsync();
            ReadResult result = pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
            if (!broken)
            {
                try
                {
                    foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                        _output.Write(segment.Span);
                    _output.Flush();
                }
                catch (IOException)
                {
                    // The host side went away (a closed terminal or pipe): the guest's output is dropped from now on, as on a cut cable.
                    broken = true;
                }
                catch (ObjectDisposedException)
                {
                    broken = true;
                }
            }
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                break;
        }
        reader.Complete();
    }

    /// <summary>A write-only stream over the pipe's writer, without the allocation Stream.WriteByte makes by default.</summary>
    private sealed class PipeSink(PipeWriter writer) : Stream
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
        }

        public override void Write(ReadOnlySpan<byte> buffer) => writer.Write(buffer);

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
