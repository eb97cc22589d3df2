using System.Runtime.InteropServices;
using Lguest.Devices.Interop;

namespace Lguest.Devices;

// Adjacent-request merging on the io_uring engine (as QEMU's virtio-blk "multireq"): while the worker pops a
// batch, a transfer that goes on where the previous one of the same direction ended (the next byte of the file)
// joins it, and the group goes to the ring as one READV/WRITEV over all its members' iovecs. The kernel then
// walks the page cache (or issues the disk I/O, or hands a buffered write to io-wq) once for the group instead
// of once per request; each member still gets its own status and used element when the group completes. A group
// that does not transfer every byte is done again member by member with blocking calls, so an error or a short
// transfer is reported for the request it belongs to, as without merging. Random offsets rarely continue each
// other: they cost one comparison per request. Off with VirtioBlockOptions.MergeRequests = false.
internal sealed partial class BlockRequestQueue
{
    /// <summary>
    /// The most bytes one merged submission carries: its first request completes only with its last, so this
    /// bounds what merging adds to a request's latency (a 1 MiB copy from the page cache takes ~100 µs); it is also
    /// what Linux's virtio-blk sends at most in one request by default (max_sectors_kb 1280, so 1 MiB aligned).
    /// </summary>
    internal const ulong MaxMergedBytes = 1 << 20;

    private int _group = -1; // the lead slot of the submission being gathered, or -1
    private uint _groupType;
    private long _groupEnd; // the file offset just past the group
    private bool? _writeNoWait; // the image takes pwritev2(RWF_NOWAIT); null until the worker's first write group asks

    /// <summary>READV/WRITEV entries written to the ring so far (a merged group is one).</summary>
    internal long TransferSubmissions { get; private set; }

    /// <summary>Write groups the worker wrote itself, with one direct call each (<see cref="TryWriteOnWorker"/>).</summary>
    internal long WorkerWrites { get; private set; }

    /// <summary>Groups (merged or of one request) the notifying vCPU transferred with one direct call each.</summary>
    internal long DirectTransfers { get; private set; }

    // The request in slot (its iovecs set) goes to the ring: into the group being gathered when it continues it,
    // otherwise that group is submitted and this one starts the next.
    private void Gather(BlockInFlight inFlight, int slot)
    {
        ref readonly BlockInFlight.Slot request = ref inFlight[slot];
        if (_group >= 0 && request.Type == _groupType && request.Offset == _groupEnd && inFlight.TryJoin(_group, slot, MaxMergedBytes))
        {
            _groupEnd += (long)request.Length;
            return;
        }
        SubmitGroup();
        _group = slot;
        _groupType = request.Type;
        _groupEnd = request.Offset + (long)request.Length;
        if (!_settings.Merge)
            SubmitGroup();
    }

    // Writes the gathered group's entry (the lead's slot as its user_data); io_uring_enter hands it over later.
    private unsafe void SubmitGroup()
    {
        int lead = _group;
        if (lead < 0)
            return;
        _group = -1;
        BlockInFlight inFlight = _inFlight!;
        if (_onVcpu ? !_lone && TryDirect(inFlight, lead) : TryWriteOnWorker(inFlight, lead)) // a lone request tried its direct call already
            return;
        ref IoUringSqe sqe = ref _ring!.Next();
        sqe.Opcode = _groupType == VirtioBlockRequestType.In ? IoUringLibc.OpReadv : IoUringLibc.OpWritev;
        sqe.Fd = _fd;
        sqe.Off = (ulong)inFlight[lead].Offset;
        sqe.Addr = (ulong)inFlight.IoVecs(lead);
        sqe.Len = (uint)inFlight.GroupSegments(lead);
        sqe.UserData = (ulong)lead;
        TransferSubmissions++;
        _toRing |= _onVcpu;
    }

    // The worker's write group, on an image that cannot take a buffered write without blocking (ext4, tmpfs:
    // pwritev2(RWF_NOWAIT) says EOPNOTSUPP, learned from the first group): io_uring would hand each to one of the
    // kernel's io-wq threads, a context switch or two per submission, and those threads take the file's lock in turn
    // anyway. The worker writes it itself with pwritev, as it writes a lone write (bench/README.md, issue 20's sixth
    // pass: 1 MiB writes at QD 32). Where the file system takes them (RWF_NOWAIT works), the ring writes them inline.
    private unsafe bool TryWriteOnWorker(BlockInFlight inFlight, int lead)
    {
        if (_groupType != VirtioBlockRequestType.Out || _writeNoWait == true)
            return false;
        IoVec* vectors = inFlight.IoVecs(lead);
        int count = inFlight.GroupSegments(lead);
        long offset = inFlight[lead].Offset;
        ulong length = inFlight.GroupLength(lead);
        nint done;
        if (_writeNoWait is null)
        {
            done = IoUringLibc.Pwritev2(_fd, vectors, count, offset, IoUringLibc.RwfNoWait);
            bool refused = done < 0 && Marshal.GetLastPInvokeError() == IoUringLibc.EOPNOTSUPP;
            _writeNoWait = !refused;
            if (!refused)
                return done >= 0 && (ulong)done == length && Written(inFlight, lead, length);
        }
        done = IoUringLibc.Pwritev(_fd, vectors, count, offset);
        // Anything short of the whole group (an error, EINTR) goes to the ring, whose path reports it per request.
        return done >= 0 && (ulong)done == length && Written(inFlight, lead, length);
    }

    private bool Written(BlockInFlight inFlight, int lead, ulong length)
    {
        WorkerWrites++;
        CompleteGroup(inFlight, lead, (int)length);
        return true;
    }

    // On the notifying vCPU a group is one direct call (preadv2 with RWF_NOWAIT, or pwritev) instead of an entry on
    // the ring: the vCPU waits for its batch anyway, and the ring would cost a submission and a wake-up of the worker
    // to reap it. A group the call cannot finish at once (a read the page cache cannot answer) goes to the ring whole.
    private unsafe bool TryDirect(BlockInFlight inFlight, int lead)
    {
        ulong length = inFlight.GroupLength(lead);
        if (!TryInline(_groupType, inFlight.IoVecs(lead), inFlight.GroupSegments(lead), inFlight[lead].Offset, length))
            return false;
        DirectTransfers++;
        // A group is at most MaxMergedBytes, so its length fits the int a completion carries.
        CompleteGroup(inFlight, lead, (int)length);
        return true;
    }

    // A merged submission completed: every member succeeded when every byte moved; otherwise each member is done
    // again on its own (Transferred finishes a transfer that moved nothing with blocking calls, and reports its
    // own error), which rereads or rewrites bytes that may already be in place: harmless.
    private void CompleteGroup(BlockInFlight inFlight, int lead, int result)
    {
        // A reset drops the results anyway: nothing is done again for a guest that gave its rings up.
        bool whole = Discarding || (result >= 0 && (ulong)result == inFlight.GroupLength(lead));
        for (int slot = lead; slot >= 0;)
        {
            int next = inFlight.Next(slot);
            // A member is at most MaxMergedBytes long, so its length fits the int a completion carries.
            CompleteSlot(inFlight, slot, whole ? (int)inFlight[slot].Length : 0);
            slot = next;
        }
    }
}
