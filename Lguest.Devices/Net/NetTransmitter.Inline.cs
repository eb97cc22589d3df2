using System.Runtime.InteropServices;
using System.Threading;
using Lguest.Virtio;

namespace Lguest.Devices;

// Transmit on the vCPU that notified (VirtioNetOptions.TransmitOnVcpu, QEMU's ioeventfd=off; issue 20). With EVENT_IDX
// a driver notifies only when the worker has gone to sleep, and waking it costs a thread wake-up and a context switch
// each way (the worker's, then the driver's for its interrupt): tens of microseconds on a host whose idle cores halt,
// against about a microsecond of kernel work per frame written to the tap. So the notification's own exit writes up to
// MaxFramesOnVcpu frames and the worker sleeps on: all of them in one io_uring_enter on the ring of the vCPU's thread
// (VcpuTapRing: its own, never the worker's, and kept for the thread's life), or one writev each where the thread has
// no ring.
// The vCPU takes the queue (Virtqueue.Owner) only while the worker sleeps with nothing pending, and never waits: the
// ring's writes carry RWF_NOWAIT, and a frame the tap cannot take now (its queue is full) is left to the worker with the
// ones after it, in their slots; the worker is woken and sends them first, the blocking way, before anything still in
// the ring. So a full tap never stalls a vCPU, nor a pause waiting for the vCPUs to leave their exits. More frames than
// the bound: the rest are the worker's (a guest streaming keeps it awake, polling, and then does not notify at all).
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
    private int _pendingFrom;   // slots [_pendingFrom, _pendingTo) the vCPU's ring could not write, before _pendingFrame
    private int _pendingTo;
    private bool _streaming;    // the vCPU left frames beyond its bound: the worker polls before it sleeps, as without it

    // The worker's poll window before it sleeps: only in a stream when the vCPUs serve notifications. Otherwise the
    // next notification is the vCPU's to serve, and a polling worker (holding the queue, notifications suppressed) would
    // take it from it and leave the driver waiting for an interrupt.
    private PollWindow? PollBeforeSleep => _owner is null || _streaming ? _pollWindow : null;

    /// <summary>Whether the worker serves this queue's notifications on the notifying thread too (set before it starts).</summary>
    public bool ServesOnVcpu { get; init; }

    private bool HasPending => _pendingFrame != 0 || _pendingTo != _pendingFrom;

    /// <summary>
    /// The inline server (<see cref="DeviceWorkers.ServeNotificationsInline"/>): on the notifying thread, with the
    /// queue's owner held, writes the frames available (up to the bounds) to the tap, in one io_uring_enter where the
    /// thread has a ring, else one writev each. True when nothing is left (notifications re-enabled, the ring looked at
    /// again); false to wake the worker (more than the bounds, the tap full, or the worker not serving yet).
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring.</exception>
    public bool ServeNotification()
    {
        if (!_open || HasPending)
            return false;
        VcpuTapRing? ring = _noWaitRefused ? null : VcpuTapRing.ForCurrentThread(_logger, _device);
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
            bool sent = ring is null ? SendOnVcpu(ref served, ref bytes) : SendBatchOnVcpu(ring, ref served, ref bytes);
            if (!sent)
            {
                Flush();
                return false; // the tap is full: what the vCPU could not write is the worker's, sent first
            }
        }
        Flush();
        _streaming = true;
        return false; // the bounds reached, more available: the worker's, as a stream
    }

    // Without a ring: pops and writes frames one writev each, within the bounds; false when the tap is full (that frame
    // left for the worker).
    private bool SendOnVcpu(ref int served, ref ulong bytes)
    {
        while (served < MaxFramesOnVcpu && bytes < MaxBytesOnVcpu && _ring.TryPop(_chain))
        {
            bytes += _chain.ReadableLength;
            served++;
            if (!TrySendOnVcpu())
                return false;
        }
        return true;
    }

    // With the thread's ring: pops frames within the bounds into slots and writes them in one submission (a frame of
    // more buffers than a slot takes ends the batch and is written alone after it). False when the tap did not take
    // them all: the rest, from the first it refused, are left for the worker.
    private unsafe bool SendBatchOnVcpu(VcpuTapRing ring, ref int served, ref ulong bytes)
    {
        int queued = 0;
        while (served < MaxFramesOnVcpu && bytes < MaxBytesOnVcpu && _ring.TryPop(_chain))
        {
            bytes += _chain.ReadableLength;
            served++;
            if (!Prepare(out int count))
            {
                _ring.AddUsed(_chain.Head, 0); // dropped
                continue;
            }
            if (count <= SlotBuffers)
            {
                FillSlot(queued++, count);
                continue;
            }
            // Too many buffers for a slot: the frames before it first, then it alone, in order.
            if (!WriteSlotsOnVcpu(ring, queued))
            {
                _pendingFrame = count; // after the slots left
                return false;
            }
            queued = 0;
            if (!TrySendPopped(count))
                return false;
        }
        return WriteSlotsOnVcpu(ring, queued);
    }

    // Writes slots 0..count-1 with the thread's ring and adds those the tap took to the used ring; false when it did not
    // take them all (from the first it did not, they are left for the worker).
    private unsafe bool WriteSlotsOnVcpu(VcpuTapRing ring, int count)
    {
        if (count == 0)
            return true;
        WriteSlots(ring.Uring, ring.Vectors, count);
        ring.Submitted(count);
        for (int slot = 0; slot < count; slot++)
        {
            int result = _results[slot];
            if (result >= 0)
            {
                _counters.Transmitted(_slotLengths[slot]);
            }
            else if (NotTaken(result))
            {
                _pendingFrom = slot;
                _pendingTo = count;
                return false;
            }
            else
            {
                Drop(VirtioNetDrop.TransmitHostRefused, $"writev failed: {Marshal.GetPInvokeErrorMessage(-result)}");
            }
            _ring.AddUsed(_slotHeads[slot], 0);
        }
        return true;
    }

    // One writev of the popped chain (or its drop), never waiting; false when the tap is full, with the frame left in
    // _chain/_header/_frame for the worker.
    private bool TrySendOnVcpu() => !Prepare(out int count) ? DropPopped() : TrySendPopped(count);

    private bool DropPopped()
    {
        _ring.AddUsed(_chain.Head, 0);
        return true;
    }

    // The popped chain, checked (count buffers in _frame), in one writev; false when the tap is full (left for the worker).
    private bool TrySendPopped(int count)
    {
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
    /// Sends the frames the vCPU left (the tap was full), in order, the blocking way, and adds them to the used ring;
    /// false when stopped on a full tap (they are lost and returned, as <see cref="Send"/> does).
    /// </summary>
    private bool SendPending()
    {
        bool sending = true;
        for (int slot = _pendingFrom; slot < _pendingTo; slot++)
        {
            // Once stopped, the rest are returned unsent.
            sending = sending && Write(SlotHeader(slot), SlotFrame(slot));
            _ring.AddUsed(_slotHeads[slot], 0);
        }
        _pendingFrom = _pendingTo = 0;
        if (_pendingFrame != 0)
        {
            sending = sending && Write(_header, _frame.AsSpan(0, _pendingFrame));
            _ring.AddUsed(_chain.Head, 0);
            _pendingFrame = 0;
        }
        return sending;
    }
}
