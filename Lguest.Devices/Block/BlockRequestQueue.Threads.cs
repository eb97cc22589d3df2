using System.Runtime.InteropServices;
using Lguest.Devices.Interop;
using Lguest.Hypervisor;
using Lguest.Virtio;

namespace Lguest.Devices;

// The thread-pool engine (QEMU's aio=threads): IN, OUT and FLUSH take a slot as on the io_uring and go to the
// queue's I/O threads (BlockIoThreads), which do the blocking call; the worker pops more meanwhile and answers
// each request when its thread posts it back, publishing what it took together. The worker sleeps in poll on the
// queue's notifier (while slots are free), the threads' completion signal and the stop signal; with nothing in
// flight, in the ring's WaitForAvailable with its poll window. A lone request is done inline as on the io_uring.
internal sealed partial class BlockRequestQueue
{
    private const short PollIn = 1; // POLLIN

    private BlockIoThreads? _pool;

    private void OpenThreads()
    {
        int slots = Math.Min(_queue.Ring.Size, _settings.MaxInFlight);
        OpenSlots(slots);
        _pool = new BlockIoThreads(_queue.Ring.Name, Perform, slots);
    }

    private void RunThreads(EventNotifier stop)
    {
        BlockIoThreads pool = _pool!;
        BlockInFlight inFlight = _inFlight!;
        Vring ring = _queue.Ring;
        var waits = new PollSet();
        int notifySlot = waits.Add(_queue.Notifier.FileHandle, PollIn);
        waits.Add(pool.Completed.FileHandle, PollIn);
        int stopSlot = waits.Add(stop.FileHandle, PollIn);
        try
        {
            while (true)
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
                Reap(pool, inFlight);
                if (popped != 0)
                {
                    _lastBatch = popped;
                    continue; // look again before sleeping: the driver may have added more meanwhile
                }

                if (inFlight.Count == 0)
                {
                    if (!ring.WaitForAvailable(_queue.Notifier, stop, PollBeforeSleep, _owner))
                        return;
                    continue;
                }
                // Room for more: a notification must wake us as well as a completion.
                bool room = inFlight.HasFree;
                if (room && ring.EnableNotifications())
                {
                    ring.DisableNotifications();
                    continue;
                }
                waits.Watch(notifySlot, room ? PollIn : (short)0);
                waits.Wait();
                if (waits.Returned(stopSlot) != 0)
                    return;
                if (waits.Returned(notifySlot) != 0)
                    _ = _queue.Notifier.TryConsume(); // the ring is looked at next anyway
                ring.DisableNotifications();
            }
        }
        finally
        {
            // As on the io_uring: no thread may still be writing guest memory when the worker returns.
            _stopping = true;
            FinishHandedOver(ring);
            while (inFlight.Count != 0)
            {
                pool.Completed.Wait();
                Reap(pool, inFlight);
            }
            PublishCompleted();
        }
    }

    // Answers every request the threads have finished, then publishes once. With none on the threads (a driver at
    // queue depth 1, whose lone requests are done inline) there is nothing to take: no system call for the signal.
    private void Reap(BlockIoThreads pool, BlockInFlight inFlight)
    {
        if (inFlight.Count != 0)
        {
            // Consume the signal before taking: a completion posted after this is signalled again. One left over
            // from a completion taken already costs one spurious wake-up at most.
            _ = pool.Completed.TryConsume();
            while (pool.TryTake(out int slot, out int result))
                CompleteSlot(inFlight, slot, result);
        }
        PublishCompleted();
    }

    // On an I/O thread: the slot's call, with io_uring's result convention. One call; a short transfer is
    // finished by the worker as an io_uring's would be.
    private unsafe int Perform(int slot)
    {
        BlockInFlight inFlight = _inFlight!;
        BlockInFlight.Slot request = inFlight[slot];
        if (request.Type == VirtioBlockRequestType.Flush)
            return -FileSync.DataSync(_file);
        IoVec* vectors = inFlight.IoVecs(slot);
        while (true)
        {
            nint done = request.Type == VirtioBlockRequestType.In
                ? IoUringLibc.Preadv(_fd, vectors, request.Segments, request.Offset)
                : IoUringLibc.Pwritev(_fd, vectors, request.Segments, request.Offset);
            if (done >= 0)
                return (int)Math.Min(done, int.MaxValue); // the kernel moves at most MAX_RW_COUNT (2 GiB - 4 KiB) at once
            int errno = Marshal.GetLastPInvokeError();
            if (errno != IoUringLibc.EINTR)
                return -errno;
        }
    }
}
