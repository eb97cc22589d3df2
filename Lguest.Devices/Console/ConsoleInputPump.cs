using System.IO.Pipelines;

namespace Lguest.Devices;

/// <summary>
/// Moves the host's input stream into a pipe, from one background thread, for the whole life of the
/// launcher: the console devices of successive boots read the same pipe, so nothing typed between
/// two boots is lost, and no blocked read of the host stream is ever abandoned. The pipe holds at
/// most <see cref="PauseThreshold"/> bytes the guest has not taken; past that the pump stops reading
/// the host stream until the guest catches up.
/// </summary>
internal sealed class ConsoleInputPump : IDisposable
{
    /// <summary>Bytes the pipe holds before the pump stops reading: a screenful of paste, bounded.</summary>
    public const int PauseThreshold = 64 * 1024;

    private const int ChunkSize = 4096;

    private readonly Stream _input;
    private readonly Pipe _pipe = new(new PipeOptions(
        pauseWriterThreshold: PauseThreshold,
        resumeWriterThreshold: PauseThreshold / 2,
        readerScheduler: PipeScheduler.Inline,
        writerScheduler: PipeScheduler.Inline,
        useSynchronizationContext: false));
    private readonly Lock _lock = new();
    private bool _started;

    public ConsoleInputPump(Stream input) => _input = input;

    /// <summary>The pipe the guest's input is read from; the first use starts the pump.</summary>
    public PipeReader Reader
    {
        get
        {
            lock (_lock)
            {
                if (!_started)
                {
                    _started = true;
                    if (_input == Stream.Null)
                    {
                        // No input at all (the PC machine's keyboard is its UART): end the pipe now, as the pump's
                        // first read would, without a thread whose start the boot would wait for.
                        _pipe.Writer.Complete();
                    }
                    else
                    {
                        new Thread(Pump) { Name = "virtio-console input", IsBackground = true }.Start();
                    }
                }
            }
            return _pipe.Reader;
        }
    }

    /// <summary>
    /// Ends the pipe. A pump blocked in a read of the host stream (which cannot be cancelled portably)
    /// stays there until the read returns or the process ends; it is a background thread.
    /// </summary>
    public void Dispose() => _pipe.Reader.Complete();

    private void Pump()
    {
        PipeWriter writer = _pipe.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                Memory<byte> room = writer.GetMemory(ChunkSize);
                int read = _input.Read(room.Span);
                if (read <= 0)
                    break;
                writer.Advance(read);
                // Waits here while the guest leaves PauseThreshold bytes untaken: backpressure to the host.
                if (PipeWaits.Flush(writer, CancellationToken.None).IsCompleted)
                    break;
            }
        }
        catch (IOException e)
        {
            error = e;
        }
        catch (ObjectDisposedException e)
        {
            error = e;
        }
        catch (InvalidOperationException)
        {
            // The reader was completed (disposal) while the pump was between two calls.
            return;
        }
        // The readers see the end of input (or the error) after what was already read.
        writer.Complete(error);
    }
}
