using System.Runtime.InteropServices;
using Lguest.Devices.Interop;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

// The io_uring engine: IN, OUT and FLUSH go to the queue's ring and complete while the worker pops more,
// up to the in-flight slots; completions are published together. The worker sleeps in io_uring_enter
// while requests are in flight, woken by a completion or by the driver's notification (a poll on the
// queue's eventfd in the same ring), and in the ring's WaitForAvailable (with its poll window) when none are.
// A lone request (nothing in flight, nothing else available: a driver at queue depth 1) is done on the worker
// with one direct call instead (bench/README.md, issue 20: at depth 1 the hand-off costs more than the call):
// a read with preadv2(RWF_NOWAIT), which answers from the page cache or refuses at once, so a read that must
// wait for the disk still goes to the ring; a write with pwritev, which io_uring would hand to one of the
// kernel's io-wq threads (ext4 cannot take a buffered write without blocking), costing two more thread
// switches than the call itself.
internal sealed partial class BlockRequestQueue
{
    // user_data of the worker's own polls: above any slot number.
    private const ulong NotifyTag = ulong.MaxValue;
    private const ulong StopTag = ulong.MaxValue - 1;
    // The two polls' entries, beside one per slot.
    private const int PollEntries = 2;

    private IoUring? _ring;
    private BlockInFlight? _inFlight;
    private int _fd = -1;
    private bool _fdReferenced;
    private bool _notifyArmed;
    private bool _stopping;
    private Func<bool>? _pausing;

    // Stopping for a reset: the driver gave the rings up, results in flight are no longer written into them. A
    // pause keeps them: the requests complete into the rings as usual, and the resumed workers go on from there.
    private bool Discarding => _stopping && !(_pausing?.Invoke() ?? false);
    private bool _lone; // the request being served is the only one: try it inline first
    private bool _readNoWait = true; // the image takes preadv2(RWF_NOWAIT) (false once it said EOPNOTSUPP)
    private int _completed; // used elements added since the last publish

    private void OpenRing()
    {
        int slots = Math.Min(_queue.Ring.Size, _settings.MaxInFlight);
        IoUring? ring = IoUring.TryCreate((uint)(slots + PollEntries), out int errno);
        if (ring is null)
        {
            _logger.IoUringUnavailable(_name, Marshal.GetPInvokeErrorMessage(errno));
            return;
        }
        _ring = ring;
        OpenSlots(slots);
    }

    private void OpenSlots(int slots)
    {
        // The handle must stay open while requests naming its descriptor are in flight.
        _file.DangerousAddRef(ref _fdReferenced);
        _fd = (int)_file.DangerousGetHandle();
        _inFlight = new BlockInFlight(slots);
    }

    /// <summary>Releases the ring or the I/O threads. Only after <see cref="Run"/> has returned: nothing is in flight then.</summary>
    public void Dispose()
    {
        _ring?.Dispose();
        _ring = null;
        _pool?.Dispose();
        _pool = null;
        _inFlight?.Dispose();
        _inFlight = null;
        if (_fdReferenced)
        {
            _file.DangerousRelease();
            _fdReferenced = false;
        }
    }

    private void RunInFlight(EventNotifier stop)
    {
        IoUring uring = _ring!;
        BlockInFlight inFlight = _inFlight!;
        Vring ring = _queue.Ring;
        ArmPoll(uring, stop.FileHandle, StopTag);
        try
        {
            while (!_stopping)
            {
                int popped = TryServeHandedOver(ring, inFlight) ? 1 : 0;
                while (inFlight.HasFree && popped < ring.Size && ring.TryPop(_chain))
                {
                    _lone = inFlight.Count == 0 && !ring.HasAvailable();
                    uint used = Serve(_chain, inFlight: true, out bool submitted);
                    if (!submitted)
                        AddUsed(ring, _chain.Head, used);
                    popped++;
                }
                SubmitGroup();
                SubmitAndReap(uring, inFlight, waitFor: 0);
                if (popped != 0)
                {
                    _lastBatch = popped;
                    continue; // look again before sleeping: the driver may have added more meanwhile
                }

                if (inFlight.Count == 0)
                {
                    // Nothing in flight: the ring's own wait, with its poll window.
                    if (!ring.WaitForAvailable(_queue.Notifier, stop, PollBeforeSleep, _owner))
                        return;
                    continue;
                }
                if (inFlight.HasFree)
                {
                    // Room for more: a notification must wake us as well as a completion.
                    if (ring.EnableNotifications())
                    {
                        ring.DisableNotifications();
                        continue;
                    }
                    if (!_notifyArmed)
                    {
                        ArmPoll(uring, _queue.Notifier.FileHandle, NotifyTag);
                        _notifyArmed = true;
                    }
                }
                SubmitAndReap(uring, inFlight, waitFor: 1);
                ring.DisableNotifications();
            }
        }
        finally
        {
            // Whatever ended the loop (stop, a bad driver, a host failure), the kernel must be done
            // with guest memory before the worker returns: wait out every request in flight.
            _stopping = true;
            FinishHandedOver(ring);
            SubmitGroup(); // slots taken for a group not yet submitted complete like the rest
            Drain(uring, inFlight);
            PublishCompleted();
        }
    }

    // The next transfer goes to the ring when a slot is free and its segments fit one; a lone one is tried
    // inline first (Started.Done: it is complete, with its data in place).
    private unsafe Started TryStartTransfer(DescriptorChain chain, uint type, ulong sector, ulong length, int count, uint usedOnSuccess)
    {
        BlockInFlight? inFlight = _inFlight;
        if (_onVcpu && inFlight is { HasFree: false })
            SubmitGroup(); // the vCPU's group (fewer slots than its batch) gives its slots back with its direct call
        if (inFlight is null || !inFlight.HasFree || count > BlockInFlight.MaxSegments)
            return Started.No;
        long offset = (long)(sector << SectorShift);
        int slot = inFlight.Take(chain.Head, StatusAddress(chain), usedOnSuccess, type, offset, length);
        IoVec* vectors = inFlight.IoVecs(slot);
        for (int i = 0; i < count; i++)
        {
            GuestBuffer b = _scatter[i];
            vectors[i].Base = _memory.GetHostAddress(b);
            vectors[i].Length = b.Length;
        }
        inFlight.SetSegments(slot, count);
        if (_lone && (!_onVcpu || length <= MaxBytesOnVcpu) && TryInline(type, vectors, count, offset, length))
        {
            inFlight.Release(slot);
            _logger.Request(_name, type, sector, length, VirtioBlockStatus.Ok);
            return Started.Done;
        }
        if (_pool is not null)
        {
            _pool.Post(slot);
            return Started.InFlight;
        }
        Gather(inFlight, slot);
        return Started.InFlight;
    }

    // One direct call for the whole transfer. Anything short of it (a read the page cache cannot answer now,
    // an error, a short transfer, EINTR) leaves it to the ring, which does it again from the start: reading or
    // writing the same bytes twice is harmless, and the ring's path reports errors and finishes short transfers.
    // A file that cannot say "would block" (tmpfs, and other file systems without FMODE_NOWAIT: preadv2 fails with
    // EOPNOTSUPP) gets a plain preadv from then on, as a lone write gets pwritev: io_uring could not try such a read
    // without blocking either, and would hand every one to an io-wq thread, two thread switches per request.
    private unsafe bool TryInline(uint type, IoVec* vectors, int count, long offset, ulong length)
    {
        nint done;
        if (type != VirtioBlockRequestType.In)
            done = IoUringLibc.Pwritev(_fd, vectors, count, offset);
        else if (_readNoWait)
        {
            done = IoUringLibc.Preadv2(_fd, vectors, count, offset, IoUringLibc.RwfNoWait);
            if (done < 0 && Marshal.GetLastPInvokeError() == IoUringLibc.EOPNOTSUPP)
            {
                _readNoWait = false;
                done = IoUringLibc.Preadv(_fd, vectors, count, offset);
            }
        }
        else
            done = IoUringLibc.Preadv(_fd, vectors, count, offset);
        return done >= 0 && (ulong)done == length;
    }

    private enum Started
    {
        No,       // not taken: serve it with blocking calls
        InFlight, // on the ring: its completion answers it
        Done,     // done inline: answer it now
    }

    // FLUSH must make durable every write the driver has seen complete, and a write is published only
    // after its completion: an fdatasync issued now covers them all. (Not IOSQE_IO_DRAIN: that would
    // also wait for the worker's own polls, which complete only on a notification.)
    private bool TrySubmitFlush(DescriptorChain chain)
    {
        BlockInFlight? inFlight = _inFlight;
        if (inFlight is null || !inFlight.HasFree)
            return false;
        int slot = inFlight.Take(chain.Head, StatusAddress(chain), 1, VirtioBlockRequestType.Flush, 0, 0);
        if (_pool is not null)
        {
            _pool.Post(slot);
            return true;
        }
        SubmitGroup(); // the ring sees the requests in the driver's order
        _toRing |= _onVcpu;
        ref IoUringSqe sqe = ref _ring!.Next();
        sqe.Opcode = IoUringLibc.OpFsync;
        sqe.RwFlags = IoUringLibc.FsyncDatasync;
        sqe.Fd = _fd;
        sqe.UserData = (ulong)slot;
        return true;
    }

    private static void ArmPoll(IoUring uring, SafeHandle fd, ulong tag)
    {
        ref IoUringSqe sqe = ref uring.Next();
        sqe.Opcode = IoUringLibc.OpPollAdd;
        // The notifier outlives the worker (its owner joins the worker before disposing it).
        sqe.Fd = (int)fd.DangerousGetHandle();
        sqe.RwFlags = IoUringLibc.PollIn;
        sqe.UserData = tag;
    }

    private void SubmitAndReap(IoUring uring, BlockInFlight inFlight, uint waitFor)
    {
        int errno = uring.Submit(waitFor);
        if (errno != 0)
            throw new IOException($"io_uring_enter failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        while (uring.TryTake(out IoUringCqe completion))
            Complete(inFlight, completion);
        PublishCompleted();
    }

    // One publish and one interrupt decision for every used element added since the last.
    private void PublishCompleted()
    {
        if (_completed != 0 && !Discarding)
        {
            Vring ring = _queue.Ring;
            ring.PublishUsed();
            if (ring.NeedsInterrupt())
                _transport.SignalUsedBuffers(_queue.Index);
        }
        _completed = 0;
    }

    private void Drain(IoUring uring, BlockInFlight inFlight)
    {
        while (inFlight.Count != 0)
        {
            int errno = uring.Submit(waitFor: 1);
            if (errno != 0)
            {
                _logger.HostIoFailed(_name, "io_uring_enter", 0, Marshal.GetPInvokeErrorMessage(errno));
                return;
            }
            while (uring.TryTake(out IoUringCqe completion))
                Complete(inFlight, completion);
        }
    }

    private void AddUsed(Vring ring, ushort head, uint used)
    {
        ring.AddUsed(head, used);
        _completed++;
    }

    private void Complete(BlockInFlight inFlight, in IoUringCqe completion)
    {
        switch (completion.UserData)
        {
            case NotifyTag:
                _notifyArmed = false;
                _ = _queue.Notifier.TryConsume(); // the ring is looked at next anyway
                return;
            case StopTag:
                _stopping = true;
                return;
        }
        if (!inFlight.IsInFlight(completion.UserData))
            return; // not ours: nothing else submits to this ring
        int lead = (int)completion.UserData;
        if (inFlight.Next(lead) < 0)
        {
            CompleteSlot(inFlight, lead, completion.Res);
            return;
        }
        CompleteGroup(inFlight, lead, completion.Res);
    }

    // The request in the slot finished with result (bytes transferred or a negative errno, as io_uring says):
    // its status goes to the guest, its used element is added.
    private void CompleteSlot(BlockInFlight inFlight, int slot, int result)
    {
        BlockInFlight.Slot request = inFlight[slot];
        byte status = request.Type == VirtioBlockRequestType.Flush
            ? Flushed(result)
            : Transferred(inFlight, slot, request, result);
        inFlight.Release(slot);
        if (Discarding)
            return; // the device is being reset: the guest's rings are no longer ours to write
        _memory.Write(request.Status, status);
        AddUsed(_queue.Ring, request.Head, status == VirtioBlockStatus.Ok ? request.UsedOnSuccess : 1);
    }

    private byte Flushed(int result)
    {
        int errno = -result;
        // A file system without fdatasync: the blocking call falls back to fsync.
        if (errno == FileSpace.EINVAL)
            errno = FileSync.DataSync(_file);
        if (errno == 0)
            return VirtioBlockStatus.Ok;
        _logger.HostIoFailed(_name, "fdatasync", 0, Marshal.GetPInvokeErrorMessage(errno));
        return VirtioBlockStatus.IoError;
    }

    private unsafe byte Transferred(BlockInFlight inFlight, int slot, in BlockInFlight.Slot request, int result)
    {
        bool write = request.Type == VirtioBlockRequestType.Out;
        string call = write ? "pwritev" : "preadv";
        if (result < 0)
        {
            _logger.HostIoFailed(_name, call, request.Offset, Marshal.GetPInvokeErrorMessage(-result));
            return VirtioBlockStatus.IoError;
        }
        ulong done = (ulong)result;
        if (done < request.Length)
        {
            // A short transfer (rare on a regular file): finish it here with blocking calls from where it stopped.
            IoVec* vectors = inFlight.IoVecs(slot);
            int first = 0;
            ulong skip = done;
            while (done < request.Length)
            {
                while (first < request.Segments && skip >= vectors[first].Length)
                {
                    skip -= vectors[first].Length;
                    first++;
                }
                if (first == request.Segments)
                    break;
                vectors[first].Base += (nint)skip;
                vectors[first].Length -= (nuint)skip;
                skip = 0;
                nint n = write
                    ? IoUringLibc.Pwritev(_fd, vectors + first, request.Segments - first, request.Offset + (long)done)
                    : IoUringLibc.Preadv(_fd, vectors + first, request.Segments - first, request.Offset + (long)done);
                if (n < 0 && Marshal.GetLastPInvokeError() == IoUringLibc.EINTR)
                    continue;
                if (n <= 0)
                    break; // an error, end of file (the image shrank under us) or no progress
                done += (ulong)n;
                skip = (ulong)n;
            }
            if (done != request.Length)
            {
                _logger.HostIoFailed(_name, call, request.Offset, $"{done} of {request.Length} bytes transferred");
                return VirtioBlockStatus.IoError;
            }
        }
        _logger.Request(_name, request.Type, (ulong)request.Offset >> SectorShift, request.Length, VirtioBlockStatus.Ok);
        return VirtioBlockStatus.Ok;
    }
}
