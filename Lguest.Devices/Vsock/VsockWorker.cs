using Lguest.Devices.Interop;
using Lguest.Hypervisor;
using Lguest.Virtio;

namespace Lguest.Devices;

/// <summary>
/// The device's one worker thread (as vhost-vsock's one kernel thread): it serves the transmit queue, the receive
/// queue and the connections' Unix sockets in turn while any has work, and sleeps in one epoll_wait on everything
/// that can give it more: the transmit queue's notification, the receive queue's (heeded while packets wait for
/// buffers), the muxer's work signal (a program's data, a new connection, a timeout), the sockets' readiness and
/// the stop signal. A credit update answering the guest's data, data answering its credit, or held bytes a socket
/// now has room for are handled by the thread that found them due, with no hand-off between threads.
/// </summary>
/// <remarks>
/// The transmit queue may also be served on the thread that notifies it (<see cref="ServeNotification"/>, through
/// <see cref="DeviceWorkers.ServeNotificationsInline"/>): the worker holds the transmit queue's
/// <see cref="Virtqueue.Owner"/> whenever it runs and lets it go only while it sleeps in epoll_wait, so the notifying
/// thread serves both queues only while the worker sleeps, and the worker waits for it when it wakes meanwhile.
/// </remarks>
internal sealed class VsockWorker(Virtqueue rx, Virtqueue tx, VsockReceiver receiver, VsockTransmitter transmitter, VsockMuxer muxer)
{
    private const ulong TxToken = 0, RxToken = 1, WorkToken = 2, StopToken = 3;

    // Events taken per epoll_wait: a busy device's sockets and signals; more wait for the next pass.
    private const int EventBatch = 64;

    // Passes of both queues one notification is served with on the notifying thread before the rest is left to the
    // worker: a driver that keeps adding packets (another vCPU) cannot keep a vCPU here; each pass is bounded by the
    // queue size.
    private const int MaxInlinePasses = 4;

    private readonly EpollEvent[] _events = new EpollEvent[EventBatch];
    private bool _running; // the worker runs (or sleeps): between Run's start and its end, Owner held

    /// <summary>The transmit queue, whose notifications <see cref="ServeNotification"/> may serve.</summary>
    public Virtqueue Transmit => tx;

    /// <summary>
    /// Serves both queues and the sockets until <paramref name="stop"/> is signalled. It may run again after it
    /// returned (a paused device resumes with a new stop signal): the queues' and signals' descriptors are watched
    /// only while it runs, and the sockets' stay watched, so what they reported meanwhile waits in the epoll set.
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke a rule of a ring or of the device.</exception>
    /// <exception cref="IOException">epoll failed.</exception>
    public void Run(EventNotifier stop)
    {
        Epoll poller = muxer.Poller;
        const uint Readable = Epoll.In | Epoll.EdgeTriggered;
        tx.Owner.Enter();
        try
        {
            _running = true;
            poller.Add(tx.Notifier.FileHandle, Readable, TxToken);
            poller.Add(rx.Notifier.FileHandle, Readable, RxToken);
            poller.Add(muxer.Work.FileHandle, Readable, WorkToken);
            poller.Add(stop.FileHandle, Readable, StopToken);
            Serve();
        }
        finally
        {
            _running = false;
            poller.Remove(stop.FileHandle);
            poller.Remove(muxer.Work.FileHandle);
            poller.Remove(rx.Notifier.FileHandle);
            poller.Remove(tx.Notifier.FileHandle);
            tx.Owner.Exit();
        }
    }

    /// <summary>
    /// The inline server of the transmit queue (<see cref="DeviceWorkers.ServeNotificationsInline"/>, QEMU's
    /// ioeventfd=off): on the thread that notified (a vCPU in its exit), with the transmit queue's
    /// <see cref="Virtqueue.Owner"/> held while the worker sleeps, does what the worker would have been woken for:
    /// the guest's packets go to their host ends (non-blocking writes, as the worker's) and what the guest is owed
    /// (the credit update answering its data) goes into its receive buffers. A stream's packets cost no thread
    /// wake-up on either side, as a socket pair's writes on the writer's thread. True when all is done (notifications
    /// asked for again, the rings looked at once more, the muxer told the worker sleeps); false to wake the worker:
    /// packets wait for receive buffers (the worker asks for the receive queue's notifications), or more came than
    /// <see cref="MaxInlinePasses"/> passes serve.
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke a rule of a ring or of the device.</exception>
    public bool ServeNotification()
    {
        if (!_running)
            return false; // the worker has not started, or has ended: the notifier is its (or nobody's)
        muxer.Wake(); // packets queued from here are this thread's to deliver: no signal to the sleeping worker
        for (int pass = 0; pass < MaxInlinePasses; pass++)
        {
            tx.Ring.DisableNotifications();
            int transmitted = transmitter.ServeAvailable();
            int received = receiver.ServeAvailable();
            if (transmitted != 0 || received != 0)
                continue;
            // As the worker before it sleeps (it sleeps still, with the receive queue's notifications as it left them).
            if (tx.Ring.EnableNotifications())
                continue;
            if (receiver.NeedsBuffers)
                return false;
            if (!muxer.PrepareToSleep())
                return true;
        }
        return false;
    }

    private void Serve()
    {
        Epoll poller = muxer.Poller;
        tx.Ring.DisableNotifications();
        rx.Ring.DisableNotifications();
        bool idle = false;
        while (true)
        {
            // Sockets and signals first (without waiting while there is work), then both queues.
            if (!Dispatch(idle ? Sleep(poller) : poller.Wait(_events, 0)))
                return;
            if (idle)
            {
                tx.Ring.DisableNotifications();
                rx.Ring.DisableNotifications();
            }
            int transmitted = transmitter.ServeAvailable();
            int received = receiver.ServeAvailable();
            if (transmitted != 0 || received != 0)
            {
                idle = false;
                continue;
            }

            // Nothing to do: ask for notifications, then look once more (a chain published meanwhile would
            // otherwise be missed by both sides), then sleep in the next epoll_wait.
            idle = true;
            if (tx.Ring.EnableNotifications())
                idle = false;
            else if (receiver.NeedsBuffers)
                idle = !rx.Ring.EnableNotifications();
            else if (muxer.PrepareToSleep())
                idle = false; // a packet for the guest came meanwhile
        }
    }

    // Waits in epoll_wait with the transmit queue's owner let go: a notification meanwhile may be served inline.
    // Awake again, the worker tells the muxer so before it dispatches what woke it: the host data a socket reported
    // is this thread's to deliver, and would otherwise signal the muxer's work eventfd (a write now, a read and a
    // pass of epoll later) to wake the worker that is already running.
    private int Sleep(Epoll poller)
    {
        tx.Owner.Exit();
        try
        {
            return poller.Wait(_events, -1);
        }
        finally
        {
            tx.Owner.Enter();
            muxer.Wake();
        }
    }

    // Handles what epoll reported: signals are consumed, socket events go to their connections. False on stop.
    private bool Dispatch(int count)
    {
        for (int i = 0; i < count; i++)
        {
            EpollEvent e = _events[i];
            switch (e.Data)
            {
                case TxToken:
                    tx.Notifier.TryConsume();
                    break;
                case RxToken:
                    rx.Notifier.TryConsume();
                    break;
                case WorkToken:
                    muxer.Work.TryConsume();
                    break;
                case StopToken:
                    return false;
                default:
                    muxer.OnSocketEvents(e.Data, e.Events);
                    break;
            }
        }
        return true;
    }
}
