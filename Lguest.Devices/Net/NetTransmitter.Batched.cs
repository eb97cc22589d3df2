using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lguest.Devices.Interop;
using Lguest.Memory;

namespace Lguest.Devices;

// Transmit in batches: the frames popped in one batch are checked as one at a time, queued with their header
// copies, and written to the tap by one io_uring_enter (a linked WRITEV per frame, so they leave in order):
// one system call per batch instead of one per frame. A frame the tap could not take (EAGAIN: its queue is
// full) and the ones after it, cancelled by the link, go out one by one through the blocking path, in order.
internal sealed unsafe partial class NetTransmitter
{
    /// <summary>
    /// A frame with more buffers than this is written on its own (after the frames queued before it): it
    /// bounds the batch's iovecs. Linux sends a frame in 1-2 buffers, up to MAX_SKB_FRAGS + 2 (19) with TSO.
    /// </summary>
    private const int SlotBuffers = 20;

    private IoUring? _uring;
    private byte[]? _headers;              // pinned: Batch header copies, the kernel reads them
    private IoVec* _vectors;               // Batch × (1 + SlotBuffers)
    private readonly GuestBuffer[] _queuedFrames = new GuestBuffer[Batch * SlotBuffers];
    private readonly ushort[] _queuedHeads = new ushort[Batch];
    private readonly int[] _queuedCounts = new int[Batch];
    private readonly int[] _queuedLengths = new int[Batch];
    private readonly int[] _results = new int[Batch];
    private int _queued;

    private void OpenRing()
    {
        _uring = IoUring.TryCreate(Batch, out _);
        if (_uring is null)
            return; // one writev per frame, as before: nothing is lost but system calls
        _headers = GC.AllocateArray<byte>(Batch * VirtioNetHeader.Size, pinned: true);
        _vectors = (IoVec*)NativeMemory.AllocZeroed((nuint)(Batch * (1 + SlotBuffers)), (nuint)sizeof(IoVec));
    }

    // Only when the worker ends: every batch it submitted was reaped before it returned.
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
        int slot = _queued++;
        _header.CopyTo(_headers.AsSpan(slot * VirtioNetHeader.Size, VirtioNetHeader.Size));
        IoVec* vectors = _vectors + slot * (1 + SlotBuffers);
        vectors[0].Base = (nint)Unsafe.AsPointer(ref _headers![slot * VirtioNetHeader.Size]);
        vectors[0].Length = VirtioNetHeader.Size;
        int length = 0;
        for (int i = 0; i < count; i++)
        {
            GuestBuffer b = _frame[i];
            _queuedFrames[slot * SlotBuffers + i] = b;
            vectors[i + 1].Base = _memory.GetHostAddress(b);
            vectors[i + 1].Length = b.Length;
            length += (int)b.Length;
        }
        _queuedHeads[slot] = _chain.Head;
        _queuedCounts[slot] = count;
        _queuedLengths[slot] = length;
        return true;
    }

    /// <summary>Writes the queued frames, in order, and adds them to the used ring; false when stopped on a full tap.</summary>
    /// <summary>Writes the queued frames, in order, and adds them to the used ring; false when stopped on a full tap.</summary>
    private bool SendQueued()
    {
        int n = _queued;
        if (n == 0)
            return true;
        _queued = 0;
        IoUring uring = _uring!;
        int fd = (int)_tap.Handle.DangerousGetHandle();
        for (int slot = 0; slot < n; slot++)
        {
            ref IoUringSqe sqe = ref uring.Next();
            sqe.Opcode = IoUringLibc.OpWritev;
            // Linked: a frame that does not go cancels the ones after it, so none overtakes it.
            sqe.Flags = slot < n - 1 ? IoUringLibc.SqeIoLink : (byte)0;
            sqe.Fd = fd;
            sqe.Off = 0; // the tap has no position: tun ignores it
            sqe.Addr = (ulong)(_vectors + slot * (1 + SlotBuffers));
            sqe.Len = (uint)(_queuedCounts[slot] + 1);
            sqe.UserData = (ulong)slot;
        }
        int reaped = 0;
        uint wait = (uint)n;
        while (reaped < n)
        {
            int errno = uring.Submit(wait);
            if (errno != 0)
                throw new IOException($"io_uring_enter failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            while (uring.TryTake(out IoUringCqe completion))
            {
                if (completion.UserData < (ulong)n)
                    _results[(int)completion.UserData] = completion.Res;
                reaped++;
            }
            wait = 1;
        }

        for (int slot = 0; slot < n; slot++)
        {
            int result = _results[slot];
            if (result >= 0)
            {
                _counters.Transmitted(_queuedLengths[slot]);
            }
            else if (result is -IoUringLibc.EAGAIN or -IoUringLibc.ECANCELED)
            {
                // The tap was full (or an earlier frame failed): this one goes the blocking way, in order.
                if (!Write(_headers.AsSpan(slot * VirtioNetHeader.Size, VirtioNetHeader.Size),
                    _queuedFrames.AsSpan(slot * SlotBuffers, _queuedCounts[slot])))
                {
                    // Stopped on a full tap: this frame and the ones after it are lost, their buffers returned (as Send).
                    for (int rest = slot; rest < n; rest++)
                        _ring.AddUsed(_queuedHeads[rest], 0);
                    return false;
                }
            }
            else
            {
                // As the blocking path: the host kernel refused what we let through; the frame is lost, not the device.
                Drop(VirtioNetDrop.TransmitHostRefused, $"writev failed: {Marshal.GetPInvokeErrorMessage(-result)}");
            }
            _ring.AddUsed(_queuedHeads[slot], 0);
        }
        return true;
    }
}
