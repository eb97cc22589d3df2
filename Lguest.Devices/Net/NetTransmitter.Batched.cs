using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lguest.Devices.Interop;
using Lguest.Memory;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

// Transmit in batches: the frames popped in one batch are checked as one at a time, queued in slots with their header
// copies, and written to the tap by one io_uring_enter (a linked WRITEV per frame, so they leave in order): one system
// call per batch instead of one per frame. The worker does it with its own ring; a vCPU serving a notification with the
// ring of its thread (NetTransmitter.Inline.cs, VcpuTapRing). Every write carries RWF_NOWAIT, so each completes, or
// fails with EAGAIN when the tap's queue is full, inside the call that submits it: the call never waits for the tap,
// and so never holds up a stop (the worker) or a vCPU. On the worker a frame the tap could not take and the ones after
// it, cancelled by the link, go out one by one through the blocking path, in order; a vCPU leaves them to the worker.
internal sealed unsafe partial class NetTransmitter
{
    /// <summary>
    /// A frame with more buffers than this is written on its own (after the frames queued before it): it
    /// bounds the batch's iovecs. Linux sends a frame in 1-2 buffers, up to MAX_SKB_FRAGS + 2 (19) with TSO.
    /// </summary>
    private const int SlotBuffers = 20;

    /// <summary>The iovecs of one slot: the header copy, then the frame's buffers.</summary>
    internal const int SlotVectors = 1 + SlotBuffers;

    private IoUring? _uring;
    private IoVec* _vectors;               // the worker's: Batch × SlotVectors
    private bool _noWaitRefused;           // the tap answered RWF_NOWAIT with EOPNOTSUPP (an older kernel): writev only
    private static int s_noWaitWarned;

    // The slots, shared by the worker's batch and a vCPU's: each is used under the queue's owner, and the worker sends
    // what a vCPU left in them (SendPending) before it queues anything of its own.
    private readonly byte[] _slotHeaders = GC.AllocateArray<byte>(Batch * VirtioNetHeader.Size, pinned: true); // the kernel reads them
    private readonly GuestBuffer[] _slotFrames = new GuestBuffer[Batch * SlotBuffers];
    private readonly ushort[] _slotHeads = new ushort[Batch];
    private readonly int[] _slotCounts = new int[Batch];
    private readonly int[] _slotLengths = new int[Batch];
    private readonly int[] _results = new int[Batch];
    private int _queued; // the worker's slots in use, from 0

    private void OpenRing()
    {
        if (_noWaitRefused)
            return;
        _uring = IoUring.TryCreate(Batch, out _);
        if (_uring is null)
            return; // one writev per frame, as before: nothing is lost but system calls
        _vectors = (IoVec*)NativeMemory.AllocZeroed((nuint)(Batch * SlotVectors), (nuint)sizeof(IoVec));
    }

    // Only when the worker ends, or gives its ring up: every batch it submitted was reaped before.
    private void CloseRing()
    {
        _uring?.Dispose();
        _uring = null;
        NativeMemory.Free(_vectors);
        _vectors = null;
        _queued = 0;
    }

    /// <summary>Checks the popped chain and queues it for the batch's write (or drops it); false when stopped.</summary>
    private bool Queue()
    {
        if (!Prepare(out int count))
        {
            _ring.AddUsed(_chain.Head, 0);
            return true;
        }
        if (count > SlotBuffers)
        {
            // Keep the order on the wire: the frames queued before it go first.
            if (!SendQueued() || !Write(_header, _frame.AsSpan(0, count)))
            {
                _ring.AddUsed(_chain.Head, 0); // stopped on a full tap: lost, its buffers returned (as Send)
                return false;
            }
            _ring.AddUsed(_chain.Head, 0);
            return true;
        }
        FillSlot(_queued++, count);
        return true;
    }

    // Puts the checked frame in _header/_frame (count buffers) and _chain's head in the slot.
    private void FillSlot(int slot, int count)
    {
        _header.CopyTo(_slotHeaders.AsSpan(slot * VirtioNetHeader.Size, VirtioNetHeader.Size));
        _frame.AsSpan(0, count).CopyTo(_slotFrames.AsSpan(slot * SlotBuffers, count));
        int length = 0;
        for (int i = 0; i < count; i++)
            length += (int)_frame[i].Length;
        _slotHeads[slot] = _chain.Head;
        _slotCounts[slot] = count;
        _slotLengths[slot] = length;
    }

    private ReadOnlySpan<byte> SlotHeader(int slot) => _slotHeaders.AsSpan(slot * VirtioNetHeader.Size, VirtioNetHeader.Size);

    private ReadOnlySpan<GuestBuffer> SlotFrame(int slot) => _slotFrames.AsSpan(slot * SlotBuffers, _slotCounts[slot]);

    /// <summary>
    /// Writes slots 0..<paramref name="count"/>-1 to the tap, in order: a linked WRITEV with RWF_NOWAIT each (its iovecs
    /// in <paramref name="vectors"/>, <see cref="SlotVectors"/> per slot), submitted by one io_uring_enter that also
    /// waits for them all. Each slot's answer (bytes, or -errno) is left in <see cref="_results"/>. Allocates nothing.
    /// </summary>
    private void WriteSlots(IoUring uring, IoVec* vectors, int count)
    {
        int fd = (int)_tap.Handle.DangerousGetHandle();
        for (int slot = 0; slot < count; slot++)
        {
            IoVec* slotVectors = vectors + slot * SlotVectors;
            slotVectors[0].Base = (nint)Unsafe.AsPointer(ref _slotHeaders[slot * VirtioNetHeader.Size]); // pinned
            slotVectors[0].Length = VirtioNetHeader.Size;
            int buffers = _slotCounts[slot];
            for (int i = 0; i < buffers; i++)
            {
                GuestBuffer b = _slotFrames[slot * SlotBuffers + i];
                slotVectors[i + 1].Base = _memory.GetHostAddress(b);
                slotVectors[i + 1].Length = b.Length;
            }
            ref IoUringSqe sqe = ref uring.Next();
            sqe.Opcode = IoUringLibc.OpWritev;
            // Linked: a frame that does not go cancels the ones after it, so none overtakes it.
            sqe.Flags = slot < count - 1 ? IoUringLibc.SqeIoLink : (byte)0;
            sqe.Fd = fd;
            sqe.Off = 0; // the tap has no position: tun ignores it
            sqe.Addr = (ulong)slotVectors;
            sqe.Len = (uint)(buffers + 1);
            // EAGAIN instead of waiting for room: a full tap never holds the submitting thread (a vCPU, or a worker
            // that must answer its stop).
            sqe.RwFlags = IoUringLibc.RwfNoWait;
            sqe.UserData = (ulong)slot;
        }
        int reaped = 0;
        uint wait = (uint)count;
        while (reaped < count)
        {
            int errno = uring.Submit(wait);
            if (errno != 0)
                throw new IOException($"io_uring_enter failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            while (uring.TryTake(out IoUringCqe completion))
            {
                if (completion.UserData < (ulong)count)
                    _results[(int)completion.UserData] = completion.Res;
                reaped++;
            }
            wait = 1; // an interrupted wait returns what was submitted: wait for the rest
        }
    }

    /// <summary>
    /// Whether a slot's answer means the tap did not take the frame and it may go later: EAGAIN (the tap's queue is full),
    /// ECANCELED (an earlier linked frame did not go), EOPNOTSUPP (this kernel's tap takes no RWF_NOWAIT write: noted,
    /// the rings are given up for writev).
    /// </summary>
    private bool NotTaken(int result)
    {
        if (result == -IoUringLibc.EOPNOTSUPP)
        {
            if (!_noWaitRefused && Interlocked.Exchange(ref s_noWaitWarned, 1) == 0)
                _logger.NoWaitRefused(_device); // the kernel's answer for every tap: once per process
            _noWaitRefused = true;
            return true;
        }
        return result is -IoUringLibc.EAGAIN or -IoUringLibc.ECANCELED;
    }

    /// <summary>Writes the queued frames, in order, and adds them to the used ring; false when stopped on a full tap.</summary>
    private bool SendQueued()
    {
        int n = _queued;
        if (n == 0)
            return true;
        _queued = 0;
        WriteSlots(_uring!, _vectors, n);
        bool sending = true;
        for (int slot = 0; slot < n; slot++)
        {
            int result = _results[slot];
            if (result >= 0)
            {
                _counters.Transmitted(_slotLengths[slot]);
            }
            else if (NotTaken(result))
            {
                // The tap was full (or an earlier frame failed): this one goes the blocking way, in order.
                if (!Write(SlotHeader(slot), SlotFrame(slot)))
                {
                    // Stopped on a full tap: this frame and the ones after it are lost, their buffers returned (as Send).
                    for (int rest = slot; rest < n; rest++)
                        _ring.AddUsed(_slotHeads[rest], 0);
                    sending = false;
                    break;
                }
            }
            else
            {
                // As the blocking path: the host kernel refused what we let through; the frame is lost, not the device.
                Drop(VirtioNetDrop.TransmitHostRefused, $"writev failed: {Marshal.GetPInvokeErrorMessage(-result)}");
            }
            _ring.AddUsed(_slotHeads[slot], 0);
        }
        if (_noWaitRefused)
            CloseRing(); // writev from now on
        return sending;
    }
}
