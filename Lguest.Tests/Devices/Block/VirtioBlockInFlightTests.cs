using System.Buffers.Binary;
using Lguest.Devices;
using Lguest.Devices.Interop;
using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Tests.Devices.Block;

/// <summary>
/// The io_uring and thread-pool engines: many requests in flight per queue, completions in batches, FLUSH after
/// them, several queues, resets with requests in flight.
/// </summary>
public class VirtioBlockInFlightTests
{
    private static void Require(VirtioBlockIoEngine engine)
    {
        if (engine == VirtioBlockIoEngine.IoUring)
            RequireIoUring();
    }

    private static void RequireIoUring()
    {
        using IoUring? ring = IoUring.TryCreate(4, out int errno);
        if (ring is null)
            Assert.Ignore($"io_uring is not available here (errno {errno})");
    }

    [Test]
    public void A_queue_with_the_io_uring_engine_uses_it_and_one_with_sync_does_not()
    {
        RequireIoUring();
        using var bed = new BlockTestBed(activate: false);
        var settings = new BlockQueueSettings(false, false, VirtioBlockIoEngine.IoUring, 32);
        using var uring = new BlockRequestQueue(bed.Memory, bed.Handle, bed.Device.Capacity, false, new byte[20], "block0",
            NullLogger.Instance, bed.Driver.CreateQueue(), bed.Transport, settings: settings);
        using var sync = new BlockRequestQueue(bed.Memory, bed.Handle, bed.Device.Capacity, false, new byte[20], "block0",
            NullLogger.Instance, bed.Driver.CreateQueue(), bed.Transport, settings: settings with { Engine = VirtioBlockIoEngine.Sync });
        Assert.That((uring.UsesIoUring, sync.UsesIoUring), Is.EqualTo((true, false)));
    }

    [TestCase(VirtioBlockIoEngine.IoUring)]
    [TestCase(VirtioBlockIoEngine.Threads)]
    [TestCase(VirtioBlockIoEngine.Sync)]
    public void Sixty_requests_published_at_once_all_complete_with_the_right_data(VirtioBlockIoEngine engine)
    {
        Require(engine);
        // 16 slots for 60 requests: the worker must wait for completions to free slots and go on.
        using var bed = new BlockTestBed(queueSize: 256, imageBytes: 4 << 20, configure: o => { o.IoEngine = engine; o.MaxInFlight = 16; });
        var reads = new List<(DriverBuffer Data, DriverBuffer Status, ulong Sector)>();
        var writes = new List<(byte[] Data, DriverBuffer Status, ulong Sector)>();
        var random = new Random(7);
        for (int i = 0; i < 30; i++)
        {
            ulong sector = (ulong)random.Next(0, 4000) & ~7UL;
            DriverBuffer data = bed.Driver.Writable(2048), data2 = bed.Driver.Writable(2048), status = bed.Status();
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, sector), data, data2, status);
            reads.Add((data, status, sector));
            reads.Add((data2, status, sector + 4));
            var payload = new byte[4096];
            random.NextBytes(payload);
            ulong target = 4096 + (ulong)i * 8; // past every read: writes and reads do not overlap
            DriverBuffer wstatus = bed.Status();
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.Out, target), bed.Driver.Readable(payload), wstatus);
            writes.Add((payload, wstatus, target));
        }
        bed.Driver.Kick();
        bed.Driver.WaitForUsed(bed.Transport, 60);
        Assert.Multiple(() => AssertServed(bed, reads, 4, writes));
    }

    [TestCase(VirtioBlockIoEngine.IoUring)]
    [TestCase(VirtioBlockIoEngine.Threads)]
    public void Completions_are_published_in_batches_with_fewer_interrupts_than_requests(VirtioBlockIoEngine engine)
    {
        Require(engine);
        using var bed = new BlockTestBed(queueSize: 256, features: VirtioFeatures.Version1, configure: o => { o.MaxPollTime = TimeSpan.Zero; o.IoEngine = engine; });
        for (int i = 0; i < 64; i++)
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, (ulong)i * 8), bed.Driver.Writable(4096), bed.Status());
        bed.Driver.Kick();
        bed.Driver.WaitForUsed(bed.Transport, 64);
        Assert.That(bed.Transport.Signals(0), Is.InRange(1, 32), "64 requests, each batch of completions one interrupt");
    }

    [TestCase(VirtioBlockIoEngine.IoUring)]
    [TestCase(VirtioBlockIoEngine.Threads)]
    public void A_flush_published_with_writes_completes_and_the_data_is_in_the_file(VirtioBlockIoEngine engine)
    {
        Require(engine);
        using var bed = new BlockTestBed(queueSize: 128, configure: o => o.IoEngine = engine);
        var payload = new byte[64 * 1024];
        new Random(3).NextBytes(payload);
        var statuses = new List<DriverBuffer>();
        for (int i = 0; i < 8; i++)
        {
            DriverBuffer status = bed.Status();
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.Out, (ulong)i * 128), bed.Driver.Readable(payload), status);
            statuses.Add(status);
        }
        DriverBuffer flush = bed.Status();
        bed.Driver.Add(bed.Header(VirtioBlockRequestType.Flush, 0), flush);
        bed.Driver.Kick();
        bed.Driver.WaitForUsed(bed.Transport, 9);
        Assert.That(statuses.Append(flush).Select(bed.StatusOf), Is.All.EqualTo(VirtioBlockStatus.Ok));
        byte[] image = bed.ImageBytes();
        for (int i = 0; i < 8; i++)
            Assert.That(image.AsSpan(i * 65536, 65536).ToArray(), Is.EqualTo(payload));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Adjacent_requests_popped_together_are_merged_and_each_gets_its_own_data_and_status(bool merge)
    {
        RequireIoUring();
        using var bed = new BlockTestBed(queueSize: 1024, imageBytes: 4 << 20, activate: false);
        var settings = new BlockQueueSettings(false, false, VirtioBlockIoEngine.IoUring, 1024, merge);
        using var queue = new BlockRequestQueue(bed.Memory, bed.Handle, bed.Device.Capacity, false, new byte[20], "block0",
            NullLogger.Instance, bed.Driver.CreateQueue(), bed.Transport, settings: settings);
        // 100 reads of 3 sectors in 3 segments each, one after the other from sector 0 (300 segments: more than
        // one submission may carry), then 40 writes of 8 sectors one after the other from sector 1000, one write
        // elsewhere in the middle of them (it breaks the run), and a read that goes on where the reads ended.
        var reads = new List<(DriverBuffer[] Data, DriverBuffer Status, ulong Sector)>();
        for (int i = 0; i < 100; i++)
        {
            DriverBuffer[] data = [bed.Driver.Writable(512), bed.Driver.Writable(512), bed.Driver.Writable(512)];
            DriverBuffer status = bed.Status();
            bed.Driver.Add([bed.Header(VirtioBlockRequestType.In, (ulong)i * 3), .. data, status]);
            reads.Add((data, status, (ulong)i * 3));
        }
        var writes = new List<(byte[] Payload, DriverBuffer Status, ulong Sector)>();
        var random = new Random(5);
        for (int i = 0; i < 41; i++)
        {
            ulong sector = i == 20 ? 6000 : 1000 + (ulong)(i < 20 ? i : i - 1) * 8;
            var payload = new byte[4096];
            random.NextBytes(payload);
            DriverBuffer status = bed.Status();
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.Out, sector), bed.Driver.Readable(payload), status);
            writes.Add((payload, status, sector));
        }
        DriverBuffer last = bed.Driver.Writable(4096), lastStatus = bed.Status();
        bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, 300), last, lastStatus);
        int requests = 100 + 41 + 1;

        using var stop = new Lguest.Hypervisor.EventNotifier();
        var worker = new Thread(() => queue.Run(stop));
        worker.Start();
        bed.Driver.Kick();
        bed.Driver.WaitForUsed(bed.Transport, requests);
        stop.Signal();
        worker.Join();

        byte[] image = bed.ImageBytes();
        Assert.Multiple(() =>
        {
            foreach ((DriverBuffer[] data, DriverBuffer status, ulong sector) in reads)
            {
                Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
                Assert.That(data.SelectMany(d => bed.Driver.ReadBuffer(d)).ToArray(), Is.EqualTo(bed.PatternAt(sector, 3)), $"read at {sector}");
            }
            foreach ((byte[] payload, DriverBuffer status, ulong sector) in writes)
            {
                Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
                Assert.That(image.AsSpan((int)sector * 512, 4096).ToArray(), Is.EqualTo(payload), $"write at {sector}");
            }
            Assert.That(bed.StatusOf(lastStatus), Is.EqualTo(VirtioBlockStatus.Ok));
            Assert.That(bed.Driver.ReadBuffer(last), Is.EqualTo(bed.PatternAt(300, 8)));
            // Unmerged: one entry per read the worker did not answer inline. Merged: a run of 300 segments needs two,
            // the last read may join the reads' last group. The writes (three groups merged: the one elsewhere splits
            // them) the worker writes itself on an image that refuses RWF_NOWAIT writes (ext4, tmpfs), else the ring.
            // (where the first one written with RWF_NOWAIT succeeded, the rest).
            long writeGroups = merge ? 3 : 41, workerWrites = queue.WorkerWrites;
            Assert.That(workerWrites == writeGroups || workerWrites <= 1, Is.True, $"{workerWrites} of {writeGroups} write groups on the worker");
            long readSubmissions = queue.TransferSubmissions - (writeGroups - workerWrites);
            if (merge)
                Assert.That(readSubmissions, Is.InRange(1, 3), "adjacent requests share submissions");
            else
                Assert.That(readSubmissions, Is.InRange(requests - 42, requests - 41), "one submission per read");
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public void A_batch_served_on_the_notifying_vcpu_merges_adjacent_requests_into_one_direct_call_each(bool merge)
    {
        RequireIoUring();
        // Issue 20's sixth pass: 4 KiB requests walking the image at depth (a guest's sequential reads and writes)
        // were one direct call each on the vCPU, 32 system calls where the worker's ring merged them into one.
        using var bed = new BlockTestBed(imageBytes: 1 << 20, queueSize: 64, activate: false);
        var settings = new BlockQueueSettings(false, false, VirtioBlockIoEngine.IoUring, 32, Merge: merge, ServeOnVcpu: true);
        using var queue = new BlockRequestQueue(bed.Memory, bed.Handle, bed.Device.Capacity, false, new byte[20], "block0",
            NullLogger.Instance, bed.Driver.CreateQueue(), bed.Transport, settings: settings);
        var reads = new List<(DriverBuffer Data, DriverBuffer Status, ulong Sector)>();
        for (int i = 0; i < 8; i++)
        {
            ulong sector = 64 + (ulong)i * 8;
            DriverBuffer data = bed.Driver.Writable(4096), status = bed.Status();
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, sector), data, status);
            reads.Add((data, status, sector));
        }
        var writes = new List<(byte[] Payload, DriverBuffer Status, ulong Sector)>();
        var random = new Random(20);
        foreach (ulong sector in new ulong[] { 512, 520, 528, 536, 1024 })
        {
            var payload = new byte[4096];
            random.NextBytes(payload);
            DriverBuffer status = bed.Status();
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.Out, sector), bed.Driver.Readable(payload), status);
            writes.Add((payload, status, sector));
        }
        bed.Driver.Publish();

        Assert.That(queue.ServeNotification(), Is.True, "the batch was finished on the notifying thread");
        Assert.That(bed.Driver.UsedIndex, Is.EqualTo((ushort)13));
        Assert.Multiple(() =>
        {
            AssertServed(bed, reads, 8, writes);
            // Merged: the 8 reads, the 4 adjacent writes, the last write. Unmerged: one group per request but the last,
            // which nothing gathered precedes: a lone request's own direct call.
            Assert.That(queue.DirectTransfers, Is.EqualTo(merge ? 3 : 12), "direct calls of groups");
            Assert.That(queue.TransferSubmissions, Is.Zero, "nothing went to the ring");
            Assert.That(bed.Transport.Signals(0), Is.EqualTo(1), "one interrupt for the batch");
        });
    }

    [Test]
    public void Lone_reads_of_an_image_on_tmpfs_are_served_on_the_worker_without_the_ring()
    {
        RequireIoUring();
        // tmpfs has no FMODE_NOWAIT: preadv2(RWF_NOWAIT) fails with EOPNOTSUPP, and io_uring would hand each read to an
        // io-wq thread. The worker reads it itself instead, as it writes a lone write.
        if (!Directory.Exists("/dev/shm"))
            Assert.Ignore("no /dev/shm here");
        using var bed = new BlockTestBed(imageBytes: 1 << 20, activate: false, folder: "/dev/shm");
        var settings = new BlockQueueSettings(false, false, VirtioBlockIoEngine.IoUring, 32, Merge: true);
        using var queue = new BlockRequestQueue(bed.Memory, bed.Handle, bed.Device.Capacity, false, new byte[20], "block0",
            NullLogger.Instance, bed.Driver.CreateQueue(), bed.Transport, settings: settings);
        using var stop = new Lguest.Hypervisor.EventNotifier();
        var worker = new Thread(() => queue.Run(stop));
        worker.Start();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                DriverBuffer data = bed.Driver.Writable(4096), status = bed.Status();
                bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, (ulong)i * 40), data, status);
                bed.Driver.Kick();
                bed.Driver.WaitForUsed(bed.Transport, 1);
                Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
                Assert.That(bed.Driver.ReadBuffer(data), Is.EqualTo(bed.PatternAt((ulong)i * 40, 8)));
            }
        }
        finally
        {
            stop.Signal();
            worker.Join();
        }
        Assert.That(queue.TransferSubmissions, Is.Zero, "each lone read was done inline");
    }

    [Test]
    public void With_two_queues_the_device_offers_MQ_and_serves_each_queue()
    {
        using var bed = new BlockTestBed(activate: false, configure: o => o.NumQueues = 2);
        var config = new byte[VirtioBlockDevice.ConfigurationSize];
        bed.Device.ReadConfig(0, config);
        Assert.That(bed.Device.DeviceFeatures & VirtioBlockFeatures.MultiQueue, Is.EqualTo(VirtioBlockFeatures.MultiQueue));
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(34)), Is.EqualTo(2), "num_queues");
        Assert.That(bed.Device.QueueMaxSizes, Has.Count.EqualTo(2));

        using var second = new VirtqueueDriver(bed.Memory, 1, 64, bed.Features, new GuestAddress(0x40000), bed.Arena);
        bed.Device.Activate(new VirtioActivation(bed.Features | VirtioBlockFeatures.MultiQueue,
            [bed.Driver.CreateQueue("block0 vq 0"), second.CreateQueue("block0 vq 1")], bed.Transport));
        DriverBuffer data0 = bed.Driver.Writable(512), status0 = bed.Status();
        DriverBuffer data1 = second.Writable(512), status1 = second.Writable(1, fill: 0xAA);
        bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, 5), data0, status0);
        second.Add(bed.Header(VirtioBlockRequestType.In, 9), data1, status1);
        second.Kick();
        bed.Driver.Kick();
        second.WaitForUsed(bed.Transport);
        bed.Driver.WaitForUsed(bed.Transport);
        Assert.That(bed.Driver.ReadBuffer(data0), Is.EqualTo(bed.PatternAt(5, 1)));
        Assert.That(second.ReadBuffer(data1), Is.EqualTo(bed.PatternAt(9, 1)));
        Assert.That((bed.StatusOf(status0), bed.StatusOf(status1)), Is.EqualTo((VirtioBlockStatus.Ok, VirtioBlockStatus.Ok)));
    }

    [TestCase(VirtioBlockIoEngine.IoUring)]
    [TestCase(VirtioBlockIoEngine.Threads)]
    public void A_reset_with_requests_in_flight_waits_for_them(VirtioBlockIoEngine engine)
    {
        Require(engine);
        using var bed = new BlockTestBed(queueSize: 128, imageBytes: 16 << 20, configure: o => o.IoEngine = engine);
        for (int i = 0; i < 32; i++)
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.Out, (ulong)i * 512), bed.Driver.Readable(new byte[256 * 1024]), bed.Status());
        bed.Driver.Kick();
        bed.Device.Reset();   // returns only once the kernel is done with every buffer
        Assert.That(bed.Transport.BadDrivers, Is.Empty);
    }

    [TestCase(VirtioBlockIoEngine.IoUring)]
    [TestCase(VirtioBlockIoEngine.Threads)]
    [TestCase(VirtioBlockIoEngine.Sync)]
    public void A_pause_right_after_a_burst_completes_every_request_the_worker_took_and_resume_serves_the_rest(VirtioBlockIoEngine engine)
    {
        Require(engine);
        using var bed = new BlockTestBed(queueSize: 256, imageBytes: 4 << 20, configure: o => { o.IoEngine = engine; o.MaxInFlight = 16; });
        var statuses = new List<DriverBuffer>();
        for (int i = 0; i < 40; i++)
        {
            DriverBuffer status = bed.Status();
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.Out, (ulong)i * 8), bed.Driver.Readable(new byte[4096]), status);
            statuses.Add(status);
        }
        bed.Driver.Kick();
        bed.Device.Pause(); // lands while requests are in flight, or before the worker took them
        ushort used = bed.Driver.UsedIndex;
        int answered = statuses.Count(s => bed.StatusOf(s) == VirtioBlockStatus.Ok);
        Assert.That(answered, Is.EqualTo(used), "every request the worker took before the pause is answered and in the used ring");
        Thread.Sleep(100);
        Assert.That(bed.Driver.UsedIndex, Is.EqualTo(used), "nothing moves while paused");
        bed.Device.Resume();
        bed.Driver.Kick();
        bed.Driver.WaitForUsed(bed.Transport, 40);
        Assert.That(statuses.All(s => bed.StatusOf(s) == VirtioBlockStatus.Ok), Is.True);
    }

    [Test]
    public void The_thread_pool_starts_threads_only_as_requests_in_flight_need_them()
    {
        int performed = 0;
        using var pool = new BlockIoThreads("block0 vq 0", slot =>
        {
            Interlocked.Add(ref performed, slot);
            return -slot;
        }, maxThreads: 3);
        pool.Post(1);
        Assert.That(pool.ThreadCount, Is.EqualTo(1));
        pool.Post(2);
        pool.Post(3);
        pool.Post(4); // a fourth in flight: no fourth thread
        Assert.That(pool.ThreadCount, Is.EqualTo(3));
        var results = new List<(int, int)>();
        while (results.Count < 4)
        {
            Assert.That(pool.Completed.Wait(timeoutMilliseconds: 30_000), Is.True, "a completion within 30 s");
            while (pool.TryTake(out int slot, out int result))
                results.Add((slot, result));
        }
        Assert.That(results.OrderBy(r => r.Item1), Is.EqualTo(new[] { (1, -1), (2, -2), (3, -3), (4, -4) }));
        Assert.That(performed, Is.EqualTo(10));
    }

    // Each read answered OK with the image's bytes (readSectors of them at its sector), each 4 KiB write OK and in the image.
    private static void AssertServed(BlockTestBed bed, List<(DriverBuffer Data, DriverBuffer Status, ulong Sector)> reads, int readSectors,
        List<(byte[] Payload, DriverBuffer Status, ulong Sector)> writes)
    {
        byte[] image = bed.ImageBytes();
        foreach ((DriverBuffer data, DriverBuffer status, ulong sector) in reads)
        {
            Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
            Assert.That(bed.Driver.ReadBuffer(data), Is.EqualTo(bed.PatternAt(sector, readSectors)), $"read at {sector}");
        }
        foreach ((byte[] payload, DriverBuffer status, ulong sector) in writes)
        {
            Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
            Assert.That(image.AsSpan((int)sector * 512, 4096).ToArray(), Is.EqualTo(payload), $"write at {sector}");
        }
    }
}
