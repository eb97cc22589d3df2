using Lguest.Hypervisor;

namespace Lguest.Virtio;

/// <summary>
/// The worker threads of one device activation and the signal that stops them: what every device of
/// Lguest.Devices serves its queues with, and what a device of your own should use (<see cref="VirtioDevice"/>
/// hands one to <see cref="VirtioDevice.OnActivate"/>).
/// </summary>
/// <remarks>
/// <para>
/// One dedicated thread per queue (or per host-side concern, such as a tap to read): a worker sleeps in
/// <see cref="Vring.WaitForAvailable(EventNotifier, EventNotifier)"/> with <see cref="Stop"/> (or in a wait on
/// a host stream with <see cref="Cancellation"/>) until there is work or the activation ends. The vCPU threads
/// never run device I/O, and a worker never waits for a vCPU.
/// </para>
/// <para>
/// Containment: what a worker throws costs its device only, never the process. A
/// <see cref="BadDriverException"/> (the guest's driver broke a rule: a looping chain, a buffer outside RAM, a
/// request of the wrong shape) goes to <see cref="IVirtioTransport.ReportBadDriver"/>; any other exception (a bug
/// in the device, a host resource that failed beyond repair) goes to <see cref="IVirtioTransport.ReportDeviceFailure"/>.
/// Either way the device shows DEVICE_NEEDS_RESET, the error is logged once by the transport, and the
/// worker ends; the other workers, the other devices and the guest run on. An
/// <see cref="OperationCanceledException"/> after <see cref="StopAndJoin"/> is the normal way out of a host wait.
/// </para>
/// <para>
/// The contract for a worker body: return soon after <see cref="Stop"/> is signalled or <see cref="Cancellation"/>
/// fires, having finished (pushed used) every request it took from its ring; chains it has not popped stay in the
/// ring for the next activation. Then a stopped set of workers leaves the queues consistent, which a reset needs
/// and a pause (stop now, start again later on the same rings) relies on.
/// </para>
/// <para>
/// A pause (<see cref="PauseAndJoin"/>) stops the workers the same way, with <see cref="IsPausing"/> true: the
/// rings stay the driver's, so a worker that holds requests across waits (I/O in flight on an io_uring, a frame
/// the host could not take yet) must finish them, push them used and signal the driver before it returns. After a
/// reset (<see cref="StopAndJoin"/>) it may drop them instead: the driver has given the rings up.
/// </para>
/// </remarks>
public sealed class DeviceWorkers : IDisposable
{
    private readonly string _device;
    private readonly IVirtioTransport _transport;
    private readonly EventNotifier _stop = new();
    private readonly CancellationTokenSource _cancellation = new();
    private readonly List<Thread> _threads = [];
    private readonly Lock _lock = new();
    private bool _stopped;
    private volatile bool _pausing;

    /// <summary>Creates an empty set of workers for one activation of <paramref name="device"/>.</summary>
    /// <param name="device">The device's name, for the threads and the error reports.</param>
    /// <param name="transport">The activation's transport: where the workers' errors are reported.</param>
    /// <exception cref="HypervisorException">The host is out of file descriptors (the stop signal is an eventfd).</exception>
    public DeviceWorkers(string device, IVirtioTransport transport)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(device);
        ArgumentNullException.ThrowIfNull(transport);
        _device = device;
        _transport = transport;
    }

    /// <summary>Signalled when the workers must stop: pass it to <see cref="Vring.WaitForAvailable(EventNotifier, EventNotifier)"/>.</summary>
    public EventNotifier Stop => _stop;

    /// <summary>Cancelled when the workers must stop: pass it to waits on host streams, pipes and sockets.</summary>
    public CancellationToken Cancellation => _cancellation.Token;

    /// <summary>
    /// Whether the workers are being stopped for a pause (<see cref="PauseAndJoin"/>): every request a worker took
    /// must be finished and pushed used, since the same rings are served again on resume. Set before
    /// <see cref="Stop"/> is signalled.
    /// </summary>
    public bool IsPausing => _pausing;

    /// <summary>
    /// Runs <paramref name="body"/> on a new background thread named <paramref name="name"/> (a queue's name, such
    /// as <c>queue.Ring.Name</c>), with the containment described on the class.
    /// </summary>
    /// <exception cref="InvalidOperationException">The workers were already stopped.</exception>
    public void Start(string name, Action body)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(body);
        var thread = new Thread(() => Run(name, body)) { Name = name, IsBackground = true };
        lock (_lock)
        {
            if (_stopped)
                throw new InvalidOperationException($"{_device}: the workers of this activation were stopped");
            _threads.Add(thread);
        }
        thread.Start();
    }

    /// <summary>
    /// Signals <see cref="Stop"/>, cancels <see cref="Cancellation"/>, and waits for every worker to return; then
    /// no worker touches guest memory or the transport any more. Idempotent. Never call it from a worker (it would
    /// wait for itself).
    /// </summary>
    public void StopAndJoin()
    {
        Thread[] threads;
        lock (_lock)
        {
            if (_stopped)
                return;
            if (_threads.Contains(Thread.CurrentThread))
                throw new InvalidOperationException($"{_device}: a worker cannot stop its own device");
            _stopped = true;
            threads = [.. _threads];
        }
        _stop.Signal();
        _cancellation.Cancel();
        foreach (Thread thread in threads)
            thread.Join();
        _stop.Dispose();
        _cancellation.Dispose();
    }

    /// <summary>
    /// Stops the workers for a pause: sets <see cref="IsPausing"/>, then does what <see cref="StopAndJoin"/> does.
    /// When it returns, every request a worker took has been pushed used and no worker does host I/O or touches
    /// guest memory; the device starts a fresh set of workers on the same queues to resume.
    /// </summary>
    public void PauseAndJoin()
    {
        _pausing = true;
        StopAndJoin();
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
            _transport.ReportDeviceFailure($"worker {name} failed: {e.Message}", e);
        }
    }
}
