using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lguest.Devices;
using Lguest.Devices.Interop;
using Lguest.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Tests.Devices.Block;

/// <summary>
/// The direct batch (issue 20's eighth pass): the transfers a queue would make with one blocking call each, made with
/// one io_submit; native AIO's structs against the C header; a batch on the notifying vCPU and the worker's write
/// groups; what the batch cannot finish going the old ways.
/// </summary>
public unsafe class BlockDirectBatchTests
{
    private static void RequireBatch()
    {
        using IoUring? ring = IoUring.TryCreate(4, out int errno);
        if (ring is null)
            Assert.Ignore($"io_uring is not available here (errno {errno})");
        using BlockDirectBatch? batch = BlockDirectBatch.TryCreate(4, out errno);
        if (batch is null)
            Assert.Ignore($"native AIO is not available here (errno {errno})");
    }

    [Test]
    public void The_structs_and_numbers_match_linux_aio_abi_h()
    {
        (string, string)[] iocb =
        [
            ("aio_data", "Data"), ("aio_key", "Key"), ("aio_rw_flags", "RwFlags"), ("aio_lio_opcode", "Opcode"),
            ("aio_reqprio", "RequestPriority"), ("aio_fildes", "Fd"), ("aio_buf", "Buffer"), ("aio_nbytes", "Bytes"),
            ("aio_offset", "Offset"), ("aio_reserved2", "Reserved2"), ("aio_flags", "Flags"), ("aio_resfd", "ResultFd"),
        ];
        (string, string)[] ev = [("data", "Data"), ("obj", "Object"), ("res", "Result"), ("res2", "Result2")];
        (string C, long Ours)[] numbers =
        [
            ("__NR_io_setup", LinuxAio.SysIoSetup), ("__NR_io_destroy", LinuxAio.SysIoDestroy),
            ("__NR_io_getevents", LinuxAio.SysIoGetevents), ("__NR_io_submit", LinuxAio.SysIoSubmit),
            ("IOCB_CMD_PREADV", LinuxAio.CmdPreadv), ("IOCB_CMD_PWRITEV", LinuxAio.CmdPwritev),
        ];
        IEnumerable<string> Fields(string type, (string C, string Ours)[] fields) =>
            fields.Select(f => $"offsetof({type}, {f.C})").Prepend($"sizeof({type})");
        var c = CLayout.Evaluate(["linux/aio_abi.h", "sys/syscall.h"],
            Fields("struct iocb", iocb).Concat(Fields("struct io_event", ev)).Concat(numbers.Select(n => n.C)));
        Assert.Multiple(() =>
        {
            Assert.That((ulong)Unsafe.SizeOf<Iocb>(), Is.EqualTo(c["sizeof(struct iocb)"]));
            foreach ((string cField, string ours) in iocb)
                Assert.That((ulong)Marshal.OffsetOf<Iocb>(ours), Is.EqualTo(c[$"offsetof(struct iocb, {cField})"]), cField);
            Assert.That((ulong)Unsafe.SizeOf<IoEvent>(), Is.EqualTo(c["sizeof(struct io_event)"]));
            foreach ((string cField, string ours) in ev)
                Assert.That((ulong)Marshal.OffsetOf<IoEvent>(ours), Is.EqualTo(c[$"offsetof(struct io_event, {cField})"]), cField);
            foreach ((string name, long ours) in numbers)
                Assert.That((ulong)ours, Is.EqualTo(c[name]), name);
        });
    }

    [Test]
    public void A_batch_makes_its_transfers_in_order_and_leaves_those_after_a_refused_one_untaken()
    {
        RequireBatch();
        string path = Path.Combine(Path.GetTempPath(), $"lguest-batch-{Guid.NewGuid():N}.img");
        byte[] original = new byte[64 << 10];
        new Random(8).NextBytes(original);
        File.WriteAllBytes(path, original);
        IoVec* vectors = (IoVec*)NativeMemory.AllocZeroed(4, (nuint)sizeof(IoVec));
        byte* buffers = (byte*)NativeMemory.AllocZeroed(4 * 4096);
        try
        {
            using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            int fd = (int)file.DangerousGetHandle();
            using BlockDirectBatch batch = BlockDirectBatch.TryCreate(4, out _)!;
            for (int i = 0; i < 4; i++)
                vectors[i] = new IoVec { Base = (nint)(buffers + i * 4096), Length = 4096 };
            new Span<byte>(buffers + 4096, 4096).Fill(0x5a);
            // A read, a write, a read of what was just written (the kernel does them in order), then one on a closed
            // descriptor, which the kernel refuses as it reads the entry: nothing after it is taken.
            batch.Add(10, write: false, fd, vectors, 1, 8192, IoUringLibc.RwfNoWait);
            batch.Add(11, write: true, fd, vectors + 1, 1, 16384, 0);
            batch.Add(12, write: false, fd, vectors + 2, 1, 16384, 0);
            batch.Add(13, write: false, -1, vectors + 3, 1, 0, 0);
            int errno = batch.Submit();
            Assert.Multiple(() =>
            {
                Assert.That(errno, Is.EqualTo(9), "EBADF stopped the batch");
                Assert.That(Enumerable.Range(0, 4).Select(batch.Lead), Is.EqualTo(new[] { 10, 11, 12, 13 }));
                Assert.That(Enumerable.Range(0, 4).Select(batch.Result), Is.EqualTo(new[] { 4096L, 4096, 4096, BlockDirectBatch.NotTaken }));
                Assert.That(new Span<byte>(buffers, 4096).ToArray(), Is.EqualTo(original.AsSpan(8192, 4096).ToArray()));
                Assert.That(new Span<byte>(buffers + 2 * 4096, 4096).ToArray(), Is.EqualTo(Enumerable.Repeat((byte)0x5a, 4096).ToArray()));
            });
            batch.Clear();
            Assert.That((batch.Count, batch.HasRoom), Is.EqualTo((0, true)));
        }
        finally
        {
            NativeMemory.Free(vectors);
            NativeMemory.Free(buffers);
            File.Delete(path);
        }
    }

    [TestCase(null)]
    [TestCase("/dev/shm")]
    public void A_batch_of_random_requests_on_the_notifying_vcpu_is_one_system_call(string? folder)
    {
        RequireBatch();
        // tmpfs refuses RWF_NOWAIT as io_submit reads the first read: that batch's groups get their direct calls (which
        // learn it), and the next batch goes whole without the flag.
        if (folder is not null && !Directory.Exists(folder))
            Assert.Ignore($"no {folder} here");
        using var bed = new BlockTestBed(imageBytes: 1 << 20, queueSize: 128, activate: false, folder: folder);
        var settings = new BlockQueueSettings(false, false, VirtioBlockIoEngine.IoUring, 32, Merge: true, ServeOnVcpu: true);
        using var queue = new BlockRequestQueue(bed.Memory, bed.Handle, bed.Device.Capacity, false, new byte[20], "block0",
            NullLogger.Instance, bed.Driver.CreateQueue(), bed.Transport, settings: settings);
        Assert.That(queue.BatchesDirectCalls, Is.True);
        var random = new Random(32);
        for (int round = 0; round < 2; round++)
        {
            long batchesBefore = queue.DirectBatches;
            // 16 reads and 16 writes at scattered, non-adjacent sectors (nothing merges): 32 groups.
            var reads = new List<(DriverBuffer Data, DriverBuffer Status, ulong Sector)>();
            var writes = new List<(byte[] Payload, DriverBuffer Status, ulong Sector)>();
            for (int i = 0; i < 16; i++)
            {
                ulong sector = (ulong)(round * 1024 + i * 32);
                DriverBuffer data = bed.Driver.Writable(4096), status = bed.Status();
                bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, sector), data, status);
                reads.Add((data, status, sector));
                var payload = new byte[4096];
                random.NextBytes(payload);
                DriverBuffer written = bed.Status();
                ulong target = sector + 16;
                bed.Driver.Add(bed.Header(VirtioBlockRequestType.Out, target), bed.Driver.Readable(payload), written);
                writes.Add((payload, written, target));
            }
            bed.Driver.Publish();

            Assert.That(queue.ServeNotification(), Is.True, $"round {round}: finished on the notifying thread");
            byte[] image = bed.ImageBytes();
            Assert.Multiple(() =>
            {
                foreach ((DriverBuffer data, DriverBuffer status, ulong sector) in reads)
                {
                    Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
                    Assert.That(bed.Driver.ReadBuffer(data), Is.EqualTo(bed.PatternAt(sector, 8)), $"read at {sector}");
                }
                foreach ((byte[] payload, DriverBuffer status, ulong sector) in writes)
                {
                    Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
                    Assert.That(image.AsSpan((int)sector * 512, 4096).ToArray(), Is.EqualTo(payload), $"write at {sector}");
                }
                Assert.That(bed.Driver.UsedIndex, Is.EqualTo((ushort)(32 * (round + 1))));
                Assert.That(queue.TransferSubmissions, Is.Zero, "nothing went to the ring");
                Assert.That(bed.Transport.Signals(0), Is.EqualTo(round + 1), "one interrupt per batch");
                // The last request is gathered like the rest (it is not lone: others came with it).
                if (folder is null || round == 1)
                    Assert.That(queue.DirectBatches - batchesBefore, Is.EqualTo(1), "one io_submit for the 32 groups");
            });
            while (bed.Driver.TryTakeUsed(out _))
            {
                // the descriptors back for the next round
            }
        }
        Assert.That(queue.DirectTransfers, Is.EqualTo(64), "every group made on the vCPU");
    }

    [Test]
    public void A_read_the_page_cache_cannot_answer_leaves_the_batch_for_the_ring_and_the_worker_finishes_it()
    {
        RequireBatch();
        using var bed = new BlockTestBed(imageBytes: 4 << 20, queueSize: 64, activate: false);
        var settings = new BlockQueueSettings(false, false, VirtioBlockIoEngine.IoUring, 32, Merge: true, ServeOnVcpu: true);
        using var queue = new BlockRequestQueue(bed.Memory, bed.Handle, bed.Device.Capacity, false, new byte[20], "block0",
            NullLogger.Instance, bed.Driver.CreateQueue(), bed.Transport, settings: settings);
        // The image's pages out of the page cache: RWF_NOWAIT reads would wait for the disk and say EAGAIN.
        Assert.That(DataSync(bed.Handle), Is.Zero, "fdatasync");
        Assert.That(FileAdvice(bed.Handle, 0, 0, DontNeed), Is.Zero, "posix_fadvise(DONTNEED)");
        var reads = new List<(DriverBuffer Data, DriverBuffer Status, ulong Sector)>();
        for (int i = 0; i < 8; i++)
        {
            ulong sector = (ulong)(i * 512);
            DriverBuffer data = bed.Driver.Writable(4096), status = bed.Status();
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.In, sector), data, status);
            reads.Add((data, status, sector));
        }
        bed.Driver.Publish();

        bool finished = queue.ServeNotification();
        using var stop = new Lguest.Hypervisor.EventNotifier();
        var worker = new Thread(() => queue.Run(stop));
        worker.Start();
        bed.Driver.Kick(); // the worker's wake-up, as the transport gives it when the vCPU could not finish
        bed.Driver.WaitForUsed(bed.Transport, 8);
        stop.Signal();
        worker.Join();
        Assert.Multiple(() =>
        {
            foreach ((DriverBuffer data, DriverBuffer status, ulong sector) in reads)
            {
                Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
                Assert.That(bed.Driver.ReadBuffer(data), Is.EqualTo(bed.PatternAt(sector, 8)), $"read at {sector}");
            }
            // Where the kernel dropped the pages (it may keep some), the reads the batch could not do went to the ring.
            Assert.That(queue.DirectTransfers + queue.TransferSubmissions, Is.GreaterThanOrEqualTo(8));
            if (queue.TransferSubmissions != 0)
                Assert.That(finished, Is.False, "the vCPU left what went to the ring to the worker");
        });
    }

    [Test]
    public void The_workers_write_groups_go_in_one_batch_and_a_flush_after_them_finds_them_written()
    {
        RequireBatch();
        using var bed = new BlockTestBed(imageBytes: 1 << 20, queueSize: 128, activate: false);
        var settings = new BlockQueueSettings(false, false, VirtioBlockIoEngine.IoUring, 64, Merge: true, ServeOnVcpu: false);
        using var queue = new BlockRequestQueue(bed.Memory, bed.Handle, bed.Device.Capacity, false, new byte[20], "block0",
            NullLogger.Instance, bed.Driver.CreateQueue(), bed.Transport, settings: settings);
        var random = new Random(9);
        var writes = new List<(byte[] Payload, DriverBuffer Status, ulong Sector)>();
        for (int i = 0; i < 40; i++)
        {
            ulong sector = (ulong)(i * 24);
            var payload = new byte[4096];
            random.NextBytes(payload);
            DriverBuffer status = bed.Status();
            bed.Driver.Add(bed.Header(VirtioBlockRequestType.Out, sector), bed.Driver.Readable(payload), status);
            writes.Add((payload, status, sector));
        }
        DriverBuffer flushStatus = bed.Status();
        bed.Driver.Add(bed.Header(VirtioBlockRequestType.Flush, 0), flushStatus);

        using var stop = new Lguest.Hypervisor.EventNotifier();
        var worker = new Thread(() => queue.Run(stop));
        worker.Start();
        bed.Driver.Kick();
        bed.Driver.WaitForUsed(bed.Transport, 41);
        stop.Signal();
        worker.Join();
        byte[] image = bed.ImageBytes();
        Assert.Multiple(() =>
        {
            foreach ((byte[] payload, DriverBuffer status, ulong sector) in writes)
            {
                Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
                Assert.That(image.AsSpan((int)sector * 512, 4096).ToArray(), Is.EqualTo(payload), $"write at {sector}");
            }
            Assert.That(bed.StatusOf(flushStatus), Is.EqualTo(VirtioBlockStatus.Ok));
            // The first write group learns whether the image takes RWF_NOWAIT writes; where it does not (ext4, tmpfs),
            // the other 39 went in batches (the FLUSH makes the one before it), where it does, to the ring.
            if (queue.WorkerWrites == 40)
                Assert.That(queue.DirectBatches, Is.InRange(1, 2), "the worker's write groups batched");
        });
    }

    private const int DontNeed = 4; // POSIX_FADV_DONTNEED

    [DllImport("libc", EntryPoint = "fdatasync")]
    private static extern int DataSync(SafeFileHandle fd);

    [DllImport("libc", EntryPoint = "posix_fadvise")]
    private static extern int FileAdvice(SafeFileHandle fd, long offset, long length, int advice);
}
