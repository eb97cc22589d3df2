using Lguest.Virtio;

namespace Lguest.Devices;

// A lone request served on the vCPU thread that notified (VirtioBlockOptions.ServeOnVcpu, QEMU's ioeventfd=off;
// bench/README.md, issue 20's fourth pass). At queue depth 1 the worker's cost is the hand-off: the vCPU's
// notification wakes the sleeping worker (a futex or eventfd wake-up and a context switch, tens of microseconds on
// a host whose idle cores halt) for a preadv that takes one or two. Served in the notification's own exit, the
// request costs the exit and the call. The vCPU takes the queue (Virtqueue.Owner) only while the worker sleeps
// with nothing in flight; a request it cannot finish at once (a read the page cache cannot answer, a FLUSH) goes in
// flight on the ring or the pool as the worker would have put it, and the worker is woken to finish it; a transfer
// past MaxBytesOnVcpu (in all, for the notification) is left to the worker as popped (it serves it first when it wakes,
// as before); a batch of more than MaxRequestsOnVcpu is the worker's, untouched (its slots, merging and one system
// call for all are what depth needs). The worker polls its ring before sleeping only after a batch of its own: after
// the vCPU's the next notification is the vCPU's to serve, and a polling worker (holding the queue) would take it
// from it and leave the driver waiting for an interrupt.
internal sealed partial class BlockRequestQueue
{
    // The largest transfer done on the vCPU: 1 MiB, what fio asks with bs=1M (the Debian bench's large requests). A
    // page-cache copy of 1 MiB takes 20-25 µs of CPU here, and handing it to the worker cost more than that: two
    // context switches per request (the worker's wake-up, then the driver's interrupt) and 32-37 µs of CPU in all
    // (bench/README.md, issue 20's fifth pass: 1 MiB QD 1 reads 32.0 -> 21.8 µs, writes 37.0 -> 24.5 µs per request,
    // 2.00 -> 0.02 switches; it was 128 KiB, a 10 µs copy, held to what the hand-off was thought to cost). A driver
    // waiting on one such request has nothing else for the vCPU meanwhile; a read the page cache cannot answer still
    // goes to the worker (RWF_NOWAIT), as do more requests than one and anything larger.
    private const ulong MaxBytesOnVcpu = 1024 * 1024;

    // The most requests one notification's exit serves, one direct call per group of adjacent ones: a driver's batch
    // of small requests (the host-side benchmark's 32) is a microsecond or two of page-cache work apiece, so 32 of
    // them cost about what waking the worker and then the driver would (two context switches: 0.06 per request at
    // QD 32, bench/README.md); a larger batch is the worker's, whole (its slots, merging, one system call for all).
    private const int MaxRequestsOnVcpu = 32;

    private Lock? _owner;   // the queue's Owner, held by the worker except while it sleeps; null: not served inline
    private bool _closed;   // the worker has stopped: the inline server leaves the queue alone (its ring is disposed)
    private bool _onVcpu;   // the request being served is on the notifying thread
    private int _lastBatch; // requests the worker popped together last time it found any
    private bool _handedOver; // the vCPU popped a transfer too large for it into _chain: the worker serves it next
    private bool _toRing;     // the vCPU wrote an entry to the ring (a FLUSH, a group a direct call could not finish)

    // The worker's poll window before it sleeps with nothing in flight: none after a lone request when the vCPU
    // serves those (see the top of this file).
    private PollWindow? PollBeforeSleep => _owner is null || _lastBatch > 1 ? _poll : null;

    /// <summary>Whether the queue serves its lone requests on the notifying thread (an in-flight engine opened).</summary>
    public bool ServesOnVcpu => _settings.ServeOnVcpu && _inFlight is not null;

    /// <summary>
    /// The inline server (<see cref="DeviceWorkers.ServeNotificationsInline"/>): on the notifying thread, with the
    /// queue's owner held, serves the requests available (up to 32, 1 MiB in all) that complete at once. True when nothing is left
    /// (notifications re-enabled, the ring looked at again); false to wake the worker.
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke the ring's rules.</exception>
    public bool ServeNotification()
    {
        BlockInFlight? inFlight = _inFlight;
        if (_closed || _stopping || inFlight is null || inFlight.Count != 0)
            return false; // the worker has requests in flight (or is gone): they are its to finish
        Vring ring = _queue.Ring;
        _onVcpu = true;
        _toRing = false;
        try
        {
            // Bounded by the queue size, as a worker's batch: a driver adding one request as each completes
            // (another vCPU) cannot keep this vCPU here.
            ulong copied = 0;
            for (int served = 0; served < ring.Size; served++)
            {
                int available = ring.AvailableCount();
                if (available == 0)
                {
                    if (!FinishOnVcpu(inFlight))
                        return false;
                    if (!ring.EnableNotifications())
                        return true;
                    continue; // one came as notifications were re-enabled
                }
                if (served + available > MaxRequestsOnVcpu)
                    break; // a larger batch: the worker's, whole (its slots, merging, one publish)
                if (!ring.TryPop(_chain))
                    break;
                ulong total = _chain.ReadableLength + _chain.WritableLength;
                ulong data = total > HeaderSize + 1 ? total - HeaderSize - 1 : 0;
                if (copied + data > MaxBytesOnVcpu)
                {
                    // More than the vCPU copies: the worker serves it as if it had popped it (its direct call,
                    // on its own thread), woken by the notifier as through an ioeventfd.
                    _handedOver = true;
                    FinishOnVcpu(inFlight);
                    return false;
                }
                copied += data;
                // The last request of the notification with nothing gathered before it: one direct call (the
                // driver at queue depth 1). Otherwise, on the io_uring engine, it is gathered as the worker would,
                // so adjacent requests merge and each group is one direct call (SubmitGroup).
                _lone = _ring is null || (available == 1 && _group < 0);
                uint used = Serve(_chain, inFlight: true, out bool submitted);
                if (!submitted)
                    AddUsed(ring, _chain.Head, used);
                else if (_lone || _toRing || _pool is not null)
                {
                    // In flight (a read the page cache could not answer, a FLUSH, a large transfer): the worker
                    // finishes it. This vCPU only hands the ring what it started.
                    FinishOnVcpu(inFlight);
                    return false;
                }
            }
            FinishOnVcpu(inFlight);
            return false;
        }
        finally
        {
            _onVcpu = false;
            _lone = false;
        }
    }

    // The end of the vCPU's share: the group being gathered gets its direct call, what went in flight stays queued in
    // the ring's submission queue for the worker, and what completed is published. True when nothing is in flight (the
    // vCPU may go on). The vCPU never enters the io_uring itself: a thread that submitted to a ring is sent task work
    // (TWA_SIGNAL) for the completions the kernel finishes later and when the ring is torn down (every pause and reset),
    // and a vCPU thread gets it in KVM_RUN: an exit for nothing under KVM, and on kvm_pvm hosts a vCPU that never
    // entered the guest again until the next signal (NetTransmitter.Inline.cs). The worker, woken for it, submits.
    private bool FinishOnVcpu(BlockInFlight inFlight)
    {
        SubmitGroup();
        PublishCompleted();
        return !(_toRing && _ring is not null) && inFlight.Count == 0;
    }

    // The worker's first duty after a wake-up: the request the vCPU popped and left to it (true: one was served).
    private bool TryServeHandedOver(Vring ring, BlockInFlight inFlight)
    {
        if (!_handedOver)
            return false;
        _handedOver = false;
        _lone = inFlight.Count == 0 && !ring.HasAvailable();
        uint used = Serve(_chain, inFlight: true, out bool submitted);
        if (!submitted)
            AddUsed(ring, _chain.Head, used);
        return true;
    }

    // On the way out: a request the vCPU left and the worker did not get to (the stop came with the wake-up) is
    // still answered, with blocking calls, unless the driver gave the rings up (a reset).
    private void FinishHandedOver(Vring ring)
    {
        if (!_handedOver)
            return;
        _handedOver = false;
        if (!Discarding)
            AddUsed(ring, _chain.Head, Serve(_chain, inFlight: false, out _));
    }

    // The worker takes the queue for as long as it runs, but for its sleeps.
    private void EnterOwner()
    {
        if (!ServesOnVcpu)
            return;
        _owner = _queue.Owner;
        _owner.Enter();
    }

    // The worker is done (stopped, or a failure): no inline server touches the queue from now on, before the
    // owner is let go and the ring disposed.
    private void ExitOwner()
    {
        _closed = true;
        if (_owner is { } owner && owner.IsHeldByCurrentThread)
            owner.Exit();
    }
}
