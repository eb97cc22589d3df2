using Lguest.Platform;

namespace Lguest.Machine;

/// <summary>
/// Feeds the host's console input to whichever UART the current boot has, across reboots: one
/// background thread reads the host stream (a blocking read that cannot be cancelled portably) and
/// hands the bytes to <see cref="Attach"/>ed UART, waiting while none is attached or its buffer is full.
/// </summary>
internal sealed class SerialConsole : IDisposable
{
    private const int ChunkSize = 256;

    private readonly Stream _input;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _attached = new(0);
    private readonly ManualResetEventSlim _flowing = new(true); // reset while the machine is paused
    private Uart16550? _uart;
    private Thread? _thread;

    public SerialConsole(Stream input) => _input = input;

    /// <summary>Makes <paramref name="uart"/> the receiver (null: none, between boots).</summary>
    public void Attach(Uart16550? uart)
    {
        lock (_lock)
        {
            _uart?.Close();
            _uart = uart;
            if (uart is not null)
                _attached.Release();
        }
    }

    /// <summary>
    /// Holds the input while the machine is paused (true): bytes read meanwhile wait here, unseen by the guest, and
    /// the pump reads no further. False lets them through again.
    /// </summary>
    public void Hold(bool held)
    {
        if (held)
            _flowing.Reset();
        else
            _flowing.Set();
    }

    /// <summary>
    /// Starts reading the host stream, once; later calls do nothing. Called when the vCPUs already run: starting a
    /// thread waits for it to be scheduled (milliseconds on a loaded host), which the guest's first instruction
    /// need not wait for, and input typed meanwhile waits in the host stream.
    /// </summary>
    public void Start()
    {
        lock (_lock)
        {
            if (_thread is not null || _stop.IsCancellationRequested)
                return;
            _thread = new Thread(Pump) { IsBackground = true, Name = "console input" };
            _thread.Start();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        Attach(null);
        // The pump may be blocked in a read of the host stream; it is a background thread and ends with the process.
    }

    private void Pump()
    {
        var buffer = new byte[ChunkSize];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                int count = _input.Read(buffer, 0, buffer.Length);
                if (count <= 0)
                    return; // end of input: the guest simply gets no more
                while (!_stop.IsCancellationRequested)
                {
                    _flowing.Wait(_stop.Token);
                    Uart16550? uart;
                    lock (_lock)
                        uart = _uart;
                    if (uart is not null && uart.Receive(buffer.AsSpan(0, count), _stop.Token))
                        break;
                    // No UART, or it closed mid-way (a reboot): wait for the next boot's.
                    _attached.Wait(TimeSpan.FromMilliseconds(200), _stop.Token);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
            // The host input went away; the guest keeps running without it.
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
