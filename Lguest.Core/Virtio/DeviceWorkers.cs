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
/// <para>
/// A queue may also be served on the thread that notifies it (<see cref="ServeNotificationsInline"/>, QEMU's
/// <c>ioeventfd=off</c>): a vCPU thread, in the exit of the driver's notification, then does the work a worker
/// would have been woken for, when the worker is asleep. That is the one exception to "the vCPU threads never run
/// device I/O": it saves a thread wake-up per notification, which at queue depth 1 costs more than the I/O.
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
    private readonly List<(Virtqueue Queue, Func<bool> Server)> _inline = [];
    private bool _stopped;
    private volatile bool _pausing;
    private volatile bool _inlineClosed; // no inline server runs any more: stopping, or one failed
    private int _inlineRunning; // inline servers between their entry and their return

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
    /// Serves <paramref name="queue"/>'s notifications on the thread that notifies (QEMU's <c>ioeventfd=off</c>): the
    /// transport takes no KVM ioeventfd for the queue, so each notification is a vCPU exit, and in it
    /// <see cref="Virtqueue.Notify"/> calls <paramref name="serve"/> whenever it can take <see cref="Virtqueue.Owner"/>
    /// at once (the worker is asleep). <paramref name="serve"/> does what the worker would have been woken for, and
    /// returns true when it is all done: nothing left available (notifications re-enabled and the ring looked at
    /// again, <see cref="Vring.EnableNotifications"/>) and nothing left for the worker; or false to have
    /// <see cref="Virtqueue.Notifier"/> signalled, so the worker serves the rest (more requests than it wants to do on a
    /// vCPU, a request it started and the worker must finish). Call it from <see cref="VirtioDevice.OnActivate"/>
    /// (and <see cref="VirtioDevice.OnResume"/>), before the queue's worker starts.
    /// </summary>
    /// <remarks>
    /// The worker must hold <see cref="Virtqueue.Owner"/> whenever it touches the ring or what
    /// <paramref name="serve"/> shares with it, and let it go only while asleep
    /// (<see cref="Vring.WaitForAvailable(EventNotifier, EventNotifier, PollWindow?, Lock?)"/> with it). A vCPU
    /// should not block: serve what completes in microseconds and leave the rest to the worker. Containment as for
    /// a worker: a <see cref="BadDriverException"/> from <paramref name="serve"/> goes to
    /// <see cref="IVirtioTransport.ReportBadDriver"/>, any other exception to
    /// <see cref="IVirtioTransport.ReportDeviceFailure"/>; then no inline server of this activation runs again and
    /// <see cref="Stop"/> is signalled, so the workers end too. <see cref="StopAndJoin"/> first waits for a
    /// <paramref name="serve"/> in progress to return, and none starts after it: a request it left to the worker is
    /// finished by the worker, which is still running then.
    /// </remarks>
    /// <param name="queue">One of this activation's queues.</param>
    /// <param name="serve">The inline server, called on the notifying thread with <see cref="Virtqueue.Owner"/> held.</param>
    /// <exception cref="InvalidOperationException">The workers were already stopped.</exception>
    public void ServeNotificationsInline(Virtqueue queue, Func<bool> serve)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(serve);
        Func<bool> server = () => ServeInline(queue, serve);
        lock (_lock)
        {
            if (_stopped)
                throw new InvalidOperationException($"{_device}: the workers of this activation were stopped");
            _inline.Add((queue, server));
        }
        queue.SetInlineServer(server);
    }

    /// <summary>
    /// Signals <see cref="Stop"/>, cancels <see cref="Cancellation"/>, and waits for every worker to return; then
    /// no worker touches guest memory or the transport any more. Idempotent. Never call it from a worker (it would
    /// wait for itself).
    /// </summary>
    public void StopAndJoin()
    {
        Thread[] threads;
        (Virtqueue Queue, Func<bool> Server)[] inline;
        lock (_lock)
        {
            if (_stopped)
                return;
            if (_threads.Contains(Thread.CurrentThread))
                throw new InvalidOperationException($"{_device}: a worker cannot stop its own device");
            _stopped = true;
            threads = [.. _threads];
            inline = [.. _inline];
        }
        // Inline servers first, while the workers still run: one in progress may leave a request to its worker.
        _inlineClosed = true;
        foreach ((Virtqueue queue, Func<bool> server) in inline)
            queue.DropInlineServer(server);
        Interlocked.MemoryBarrier(); // the close is visible before the count is read (ServeInline: the reverse)
        var wait = new SpinWait();
        while (Volatile.Read(ref _inlineRunning) != 0)
            wait.SpinOnce(); // a server does microseconds of work: a vCPU's exit
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

    // An inline server's containment: as a worker's, and none runs once the workers are stopping.
    private bool ServeInline(Virtqueue queue, Func<bool> serve)
    {
        Interlocked.Increment(ref _inlineRunning); // a full fence: the close is read after the count is raised
        try
        {
            if (_inlineClosed)
                return false;
            return serve();
        }
        catch (BadDriverException e)
        {
            CloseInline();
            _transport.ReportBadDriver(e);
            return true;
        }
#pragma warning disable CA1031 // a device bug must cost only this device, not the vCPU's run
        catch (Exception e)
#pragma warning restore CA1031
        {
            CloseInline();
            _transport.ReportDeviceFailure($"inline server of {queue.Ring.Name} failed: {e.Message}", e);
            return true;
        }
        finally
        {
            Interlocked.Decrement(ref _inlineRunning);
        }
    }

    // After an inline server's failure: no other runs, and the workers end (the queue's state is no longer trusted).
    // StopAndJoin waits for this server to return before it disposes of the stop signal.
    private void CloseInline()
    {
        _inlineClosed = true;
        _stop.Signal();
    }

    private void Run(string name, Action body)
    {
        try
        {
            body();
        }
        catch (BadDriverException e)
        {
            // The transport logs it once and puts the device in DEVICE_NEEDS_RESET; this worker stops
            // touching its queue, whose state can no longer be trusted, and so do the inline servers.
            _inlineClosed = true;
            _transport.ReportBadDriver(e);
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // a device bug must cost only this device, not the process
        catch (Exception e)
#pragma warning restore CA1031
        {
            _inlineClosed = true;
            _transport.ReportDeviceFailure($"worker {name} failed: {e.Message}", e);
        }
    }
}
