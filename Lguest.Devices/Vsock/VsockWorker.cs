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
internal sealed class VsockWorker(Virtqueue rx, Virtqueue tx, VsockReceiver receiver, VsockTransmitter transmitter, VsockMuxer muxer)
{
    private const ulong TxToken = 0, RxToken = 1, WorkToken = 2, StopToken = 3;

    // Events taken per epoll_wait: a busy device's sockets and signals; more wait for the next pass.
    private const int EventBatch = 64;

    private readonly EpollEvent[] _events = new EpollEvent[EventBatch];

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
        try
        {
            poller.Add(tx.Notifier.FileHandle, Readable, TxToken);
            poller.Add(rx.Notifier.FileHandle, Readable, RxToken);
            poller.Add(muxer.Work.FileHandle, Readable, WorkToken);
            poller.Add(stop.FileHandle, Readable, StopToken);
            Serve();
        }
        finally
        {
            poller.Remove(stop.FileHandle);
            poller.Remove(muxer.Work.FileHandle);
            poller.Remove(rx.Notifier.FileHandle);
            poller.Remove(tx.Notifier.FileHandle);
        }
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
            if (!Dispatch(poller.Wait(_events, idle ? -1 : 0)))
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
