using Lguest.Devices.Interop;

namespace Lguest.Devices;

// The direct batch (BlockDirectBatch, io_uring engine): the groups the notifying vCPU would make with one direct call
// each, and the worker's write groups on an image that refuses non-blocking buffered writes (ext4, tmpfs), are made
// with one io_submit per batch instead. At queue depth 32 with 4 KiB requests the calls were the device's main cost:
// 32 preadv2 per notification, each a system call of 1-2 µs on this host against a 4 KiB copy of under one
// (bench/README.md, issue 20's eighth pass). A transfer the batch does not finish (a read the page cache cannot
// answer now, an error, a short one) goes to the ring as its direct call's would, and one the kernel did not take
// gets its direct call. Where native AIO is missing, every group keeps its own call.
internal sealed partial class BlockRequestQueue
{
    private const int EOPNOTSUPP = 95;
    private const int EAGAIN = 11;

    private BlockDirectBatch? _batch;

    /// <summary>io_submit calls of the direct batch (each makes every group gathered for it).</summary>
    internal long DirectBatches => _batch?.Submissions ?? 0;

    /// <summary>Whether the queue makes its direct transfers in batches (native AIO opened).</summary>
    internal bool BatchesDirectCalls => _batch is not null;

    private void OpenBatch(int slots)
    {
        // Each group holds a slot until its batch is made, so a batch never holds more groups than there are slots.
        // Without one (no AIO, the host's aio-max-nr reached) each transfer keeps its own call, as before the batch.
        _batch = BlockDirectBatch.TryCreate(slots, out _);
    }

    // Adds the group to the direct batch (true), made at the next SubmitBatch; false: no batch, make it another way.
    private unsafe bool TryBatch(BlockInFlight inFlight, int lead)
    {
        BlockDirectBatch? batch = _batch;
        if (batch is null)
            return false;
        if (!batch.HasRoom)
            SubmitBatch(); // cannot happen while groups hold slots (the batch has one place per slot); kept for safety
        bool write = inFlight[lead].Type == VirtioBlockRequestType.Out;
        int flags = !write && _readNoWait ? IoUringLibc.RwfNoWait : 0;
        batch.Add(lead, write, _fd, inFlight.IoVecs(lead), inFlight.GroupSegments(lead), inFlight[lead].Offset, flags);
        return true;
    }

    // Makes the direct batch: one io_submit for every group added; each group that moved all its bytes completes, one
    // the kernel did not take gets its own direct call, the rest go to the ring (which does them again from the start
    // and reports errors per request).
    private void SubmitBatch()
    {
        BlockDirectBatch? batch = _batch;
        if (batch is null || batch.Count == 0)
            return;
        BlockInFlight inFlight = _inFlight!;
        int errno = batch.Submit();
        for (int i = 0; i < batch.Count; i++)
        {
            int lead = batch.Lead(i);
            long result = batch.Result(i);
            ulong length = inFlight.GroupLength(lead);
            bool write = inFlight[lead].Type == VirtioBlockRequestType.Out;
            if (result >= 0 && (ulong)result == length)
            {
                if (_onVcpu)
                    DirectTransfers++;
                else
                    WorkerWrites++;
                // A group is at most MaxMergedBytes, so its length fits the int a completion carries.
                CompleteGroup(inFlight, lead, (int)length);
                continue;
            }
            if (result == BlockDirectBatch.NotTaken && (_onVcpu ? TryDirect(inFlight, lead) : write && WriteOnWorker(inFlight, lead)))
                continue;
            ToRing(inFlight, lead);
        }
        batch.Clear();
        // Refused outright for a reason no later batch escapes (no AIO after all, a policy that forbids it): one
        // system call per transfer from now on, as without a batch. A refused RWF_NOWAIT (tmpfs) was learnt by the
        // direct call above, and a full host (EAGAIN) may pass next time.
        if (errno != 0 && errno != EOPNOTSUPP && errno != EAGAIN)
        {
            batch.Dispose();
            _batch = null;
        }
    }
}
