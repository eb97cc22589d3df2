using Lguest.Hypervisor;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// The worker threads of one device activation and the signal that stops them. Each worker serves
/// one queue and sleeps in <see cref="Vring.WaitForAvailable(EventNotifier, EventNotifier, PollWindow)"/> (or on host input) until there is
/// work or <see cref="Stop"/> fires. A worker that meets a driver's broken rule reports it to the
/// transport and ends; nothing a worker throws reaches the thread pool or kills the process.
/// </summary>
internal sealed class DeviceWorkers : IDisposable
{
    private readonly string _device;
    private readonly IVirtioTransport _transport;
    private readonly ILogger _logger;
    private readonly EventNotifier _stop = new();
    private readonly CancellationTokenSource _cancellation = new();
    private readonly List<Thread> _threads = [];
    private bool _stopped;

    public DeviceWorkers(string device, IVirtioTransport transport, ILogger logger)
    {
        _device = device;
        _transport = transport;
        _logger = logger;
    }

    /// <summary>Signalled when the workers must stop: pass it to <see cref="Vring.WaitForAvailable(EventNotifier, EventNotifier, PollWindow)"/>.</summary>
    public EventNotifier Stop => _stop;

    /// <summary>Cancelled when the workers must stop: pass it to waits on host streams and pipes.</summary>
    public CancellationToken Cancellation => _cancellation.Token;

    /// <summary>Starts <paramref name="body"/> on its own thread named <paramref name="name"/>.</summary>
    public void Start(string name, Action body)
    {
        var thread = new Thread(() => Run(name, body)) { Name = name, IsBackground = true };
        _threads.Add(thread);
        thread.Start();
    }

    /// <summary>
    /// Stops every worker and waits for each to return, then releases the stop signal. After this
    /// no worker touches guest memory or the transport. Never call it from a worker.
    /// </summary>
    public void StopAndJoin()
    {
        if (_stopped)
            return;
        _stopped = true;
        _stop.Signal();
        _cancellation.Cancel();
        foreach (Thread thread in _threads)
            thread.Join();
        _stop.Dispose();
        _cancellation.Dispose();
    }

    /// <summary>Same as <see cref="StopAndJoin"/>.</summary>
    public void Dispose() => StopAndJoin();

    private void Run(string name, Action body)
    {
        try
        {
            body();
        }
        catch (BadDriverException e)
        {
            // The transport logs it once and puts the device in DEVICE_NEEDS_RESET; this worker stops
            // touching its queue, whose state can no longer be trusted.
            _transport.ReportBadDriver(e);
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // a device bug must cost only this device, not the process
        catch (Exception e)
#pragma warning restore CA1031
        {
            _logger.WorkerFailed(_device, name, e);
        }
    }
}
