using System.Threading;
using Lguest.Virtio;

namespace Lguest.Devices;

// Transmit on the vCPU that notified (VirtioNetOptions.TransmitOnVcpu, QEMU's ioeventfd=off; issue 20). With EVENT_IDX
// a driver notifies only when the worker has gone to sleep, and waking it costs a thread wake-up and a context switch
// each way (the worker's, then the driver's for its interrupt): tens of microseconds on a host whose idle cores halt,
// against about a microsecond of kernel work per frame written to the tap. So the notification's own exit writes up to
// MaxFramesOnVcpu frames, one writev each, and the worker sleeps on.
// The vCPU takes the queue (Virtqueue.Owner) only while the worker sleeps with nothing pending, and never waits: a
// frame the tap cannot take now (its queue is full) is left to the worker, which is woken and sends it first, the
// blocking way, before anything still in the ring. More frames than the bound: the rest are the worker's (a guest
// streaming keeps it awake, polling, and then does not notify at all).
// Plain writev, not the worker's io_uring: a thread that ever submitted to an io_uring is sent task work (TWA_SIGNAL)
// when that ring is torn down (io_ring_exit_work, at every pause and reset here) and for completions the kernel
// finishes later. A vCPU thread gets it in KVM_RUN: KVM leaves the guest for it (an exit for nothing), and kvm_pvm
// hosts were seen never to enter the guest again until the next signal (the vCPU thread spinning in
// exit_to_user_mode_loop, the guest frozen: 8 of 105 runs of ApiPauseProbeTests' pause loop; 0 of 107 with writev).
internal sealed partial class NetTransmitter
{
    // Frames written in one notification's exit: at most a batch and about 128 KiB. A tap write is about a microsecond
    // of the host's stack per small frame (measured: 1.2-1.3 µs of CPU per writev of 64 or 1514 bytes, bench/README.md),
    // so a batch of small frames holds the vCPU for tens of microseconds, about what handing it to a sleeping worker
    // costs in wake-ups; large segments (TSO, up to 64 KiB each) cost more per frame, so the byte bound keeps a
    // stream's bulk on the worker.
    private const int MaxFramesOnVcpu = Batch;
    private const ulong MaxBytesOnVcpu = 128 * 1024;

    private Lock? _owner;       // the queue's Owner, held by the worker except while it sleeps; null: not served inline
    private volatile bool _open; // the worker holds the queue and is serving: the inline server may serve
    private int _pendingFrame;  // buffers of the frame in _chain/_header/_frame the vCPU could not write; 0: none
    private bool _streaming;    // the vCPU left frames beyond its bound: the worker polls before it sleeps, as without it

    // The worker's poll window before it sleeps: only in a stream when the vCPUs serve notifications. Otherwise the
    // next notification is the vCPU's to serve, and a polling worker (holding the queue, notifications suppressed) would
    // take it from it and leave the driver waiting for an interrupt.
    private PollWindow? PollBeforeSleep => _owner is null || _streaming ? _pollWindow : null;

    /// <summary>Whether the worker serves this queue's notifications on the notifying thread too (set before it starts).</summary>
    public bool ServesOnVcpu { get; init; }

    private bool HasPending => _pendingFrame != 0;

    /// <summary>
    /// The inline server (<see cref="DeviceWorkers.ServeNotificationsInline"/>): on the notifying thread, with the
    /// queue's owner held, writes the frames available (up to the bounds) to the tap, one writev each. True when
    /// nothing is left (notifications re-enabled, the ring looked at again); false to wake the worker (more than the
    /// bounds, the tap full, or the worker not serving yet).
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring.</exception>
    public bool ServeNotification()
    {
        if (!_open || HasPending)
            return false;
        _ring.DisableNotifications(); // without EVENT_IDX the driver would exit again for every frame it adds meanwhile
        int served = 0;
        ulong bytes = 0;
        while (true)
        {
            if (!_ring.HasAvailable())
            {
                Flush();
                if (!_ring.EnableNotifications())
                    return true;
                // One came as notifications were re-enabled: served here if within the bound.
            }
            if (served >= MaxFramesOnVcpu || bytes >= MaxBytesOnVcpu)
                break;
            while (served < MaxFramesOnVcpu && bytes < MaxBytesOnVcpu && _ring.TryPop(_chain))
            {
                bytes += _chain.ReadableLength;
                served++;
                if (!TrySendOnVcpu())
                {
                    Flush();
                    return false; // the tap is full: this frame is the worker's, sent first
                }
            }
        }
        Flush();
        _streaming = true;
        return false; // the bounds reached, more available: the worker's, as a stream
    }

    // One writev of the popped chain (or its drop), never waiting; false when the tap is full, with the frame left in
    // _chain/_header/_frame for the worker.
    private bool TrySendOnVcpu()
    {
        if (!Prepare(out int count))
        {
            _ring.AddUsed(_chain.Head, 0);
            return true; // dropped
        }
        if (WriteOnce(_header, _frame.AsSpan(0, count)) == TapWrite.Full)
        {
            _pendingFrame = count;
            return false;
        }
        _ring.AddUsed(_chain.Head, 0);
        return true;
    }

    // The worker takes the queue for as long as it runs, but for its sleeps; the inline server may serve once the
    // worker has opened its ring.
    private void EnterOwner()
    {
        if (!ServesOnVcpu)
            return;
        _owner = _queue.Owner;
        _owner.Enter();
    }

    // Called once the batch ring is open, with the queue held.
    private void OpenInline() => _open = ServesOnVcpu;

    // The worker is done: no inline server touches the queue from now on, before the owner is let go and the ring
    // closed.
    private void ExitOwner()
    {
        _open = false;
        if (_owner is { } owner && owner.IsHeldByCurrentThread)
            owner.Exit();
    }

    /// <summary>
    /// Sends the frame the vCPU left (the tap was full), the blocking way, and adds it to the used ring; false when
    /// stopped on a full tap (it is lost and returned, as <see cref="Send"/> does).
    /// </summary>
    private bool SendPending()
    {
        if (_pendingFrame == 0)
            return true;
        bool sending = Write(_header, _frame.AsSpan(0, _pendingFrame));
        _ring.AddUsed(_chain.Head, 0);
        _pendingFrame = 0;
        return sending;
    }
}
