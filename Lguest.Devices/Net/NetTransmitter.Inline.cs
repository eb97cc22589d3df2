using System.Threading;
using Lguest.Virtio;

namespace Lguest.Devices;

// Transmit on the vCPU that notified (VirtioNetOptions.TransmitOnVcpu, QEMU's ioeventfd=off; issue 20). With EVENT_IDX
// a driver notifies only when the worker has gone to sleep, and waking it costs a thread wake-up and a context switch
// each way (the worker's, then the driver's for its interrupt): tens of microseconds on a host whose idle cores halt,
// against about a microsecond of kernel work per frame written to the tap. So the notification's own exit writes a
// batch of up to MaxFramesOnVcpu frames with one io_uring_enter, as the worker would, and the worker sleeps on.
// The vCPU takes the queue (Virtqueue.Owner) only while the worker sleeps with nothing pending, and never waits: a
// frame the tap cannot take now (its queue is full) and the ones after it are left in their slots for the worker,
// which is woken and sends them first, in order, the blocking way. More frames than a batch: the rest are the
// worker's (a guest streaming keeps it awake, polling, and then does not notify at all).
internal sealed partial class NetTransmitter
{
    // Frames written in one notification's exit: at most one batch (one io_uring_enter) and about 128 KiB. A tap write
    // is about a microsecond of the host's stack per small frame (measured: 1.2-1.3 µs of CPU per writev of 64 or 1514
    // bytes, bench/README.md), so a batch of small frames holds the vCPU for tens of microseconds, about what handing
    // it to a sleeping worker costs in wake-ups; large segments (TSO, up to 64 KiB each) cost more per frame, so the
    // byte bound keeps a stream's bulk on the worker.
    private const int MaxFramesOnVcpu = Batch;
    private const ulong MaxBytesOnVcpu = 128 * 1024;

    private Lock? _owner;       // the queue's Owner, held by the worker except while it sleeps; null: not served inline
    private volatile bool _open; // the worker holds the queue and its io_uring is set up: the inline server may serve
    private int _pendingFrom;   // queued slots [_pendingFrom, _pendingTo) the vCPU could not send: the worker's first duty
    private int _pendingTo;
    private int _pendingLarge;  // buffers of the frame in _chain/_header/_frame the vCPU left (too many for a slot); 0: none
    private bool _streaming;    // the vCPU left frames beyond its bound: the worker polls before it sleeps, as without it

    // The worker's poll window before it sleeps: only in a stream when the vCPUs serve notifications. Otherwise the
    // next notification is the vCPU's to serve, and a polling worker (holding the queue, notifications suppressed) would
    // take it from it and leave the driver waiting for an interrupt.
    private PollWindow? PollBeforeSleep => _owner is null || _streaming ? _pollWindow : null;

    /// <summary>Whether the worker serves this queue's notifications on the notifying thread too (set before it starts).</summary>
    public bool ServesOnVcpu { get; init; }

    private bool HasPending => _pendingFrom < _pendingTo || _pendingLarge != 0;

    /// <summary>
    /// The inline server (<see cref="DeviceWorkers.ServeNotificationsInline"/>): on the notifying thread, with the
    /// queue's owner held, writes the frames available (up to a batch) to the tap. True when nothing is left
    /// (notifications re-enabled, the ring looked at again); false to wake the worker (more than a batch, the tap
    /// full, or the worker not serving yet).
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring.</exception>
    public bool ServeNotification()
    {
        if (!_open || HasPending || _uring is null)
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
            bool queued = true;
            while (served < MaxFramesOnVcpu && bytes < MaxBytesOnVcpu && queued && _ring.TryPop(_chain))
            {
                bytes += _chain.ReadableLength;
                queued = Queue(onVcpu: true); // false: a frame of many buffers, left pending with what was queued sent
                served++;
            }
            if (queued)
                SendQueued(onVcpu: true);
            if (HasPending)
            {
                Flush();
                return false; // the tap is full, or a frame to write the blocking way: the worker's, not this vCPU's
            }
        }
        Flush();
        _streaming = true;
        return false; // a batch written, more available: the worker's, as a stream
    }

    // The worker takes the queue for as long as it runs, but for its sleeps; the inline server may serve once the
    // worker's io_uring is open.
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
    /// Sends the frames the vCPU left, in order, the blocking way, and adds them to the used ring; false when stopped on
    /// a full tap (the rest are lost and returned, as <see cref="Send"/> does).
    /// </summary>
    private bool SendPending()
    {
        bool sending = true;
        for (int slot = _pendingFrom; slot < _pendingTo; slot++)
        {
            sending = sending && Write(_headers.AsSpan(slot * VirtioNetHeader.Size, VirtioNetHeader.Size),
                _queuedFrames.AsSpan(slot * SlotBuffers, _queuedCounts[slot]));
            _ring.AddUsed(_queuedHeads[slot], 0);
        }
        _pendingFrom = _pendingTo = 0;
        if (_pendingLarge != 0)
        {
            sending = sending && Write(_header, _frame.AsSpan(0, _pendingLarge));
            _ring.AddUsed(_chain.Head, 0);
            _pendingLarge = 0;
        }
        return sending;
    }
}
