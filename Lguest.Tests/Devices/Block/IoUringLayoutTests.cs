using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lguest.Devices;
using Lguest.Devices.Interop;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Block;

/// <summary>io_uring's structs, system call numbers and constants, and fallocate's modes, against the C headers.</summary>
public class IoUringLayoutTests
{
    private static readonly string[] Headers = ["linux/io_uring.h", "sys/syscall.h", "sys/uio.h", "poll.h", "linux/falloc.h", "sys/mman.h", "errno.h"];

    private static void Check<T>(IReadOnlyDictionary<string, ulong> c, string cType, params (string C, string Ours)[] fields)
    {
        Assert.That((ulong)Unsafe.SizeOf<T>(), Is.EqualTo(c[$"sizeof({cType})"]), $"sizeof({cType})");
        foreach ((string cField, string ours) in fields)
            Assert.That((ulong)Marshal.OffsetOf<T>(ours), Is.EqualTo(c[$"offsetof({cType}, {cField})"]), $"{cType}.{cField}");
    }

    private static IEnumerable<string> Expressions(string cType, params (string C, string Ours)[] fields) =>
        fields.Select(f => $"offsetof({cType}, {f.C})").Prepend($"sizeof({cType})");

    [Test]
    public void The_rings_structs_match_the_kernel_header()
    {
        (string, string)[] sqe =
        [
            ("opcode", "Opcode"), ("flags", "Flags"), ("ioprio", "IoPrio"), ("fd", "Fd"), ("off", "Off"), ("addr", "Addr"),
            ("len", "Len"), ("rw_flags", "RwFlags"), ("fsync_flags", "RwFlags"), ("poll32_events", "RwFlags"), ("user_data", "UserData"),
            ("buf_index", "BufIndex"), ("personality", "Personality"), ("splice_fd_in", "SpliceFdIn"), ("addr3", "Addr3"),
        ];
        (string, string)[] cqe = [("user_data", "UserData"), ("res", "Res"), ("flags", "Flags")];
        (string, string)[] sqOff =
        [
            ("head", "Head"), ("tail", "Tail"), ("ring_mask", "RingMask"), ("ring_entries", "RingEntries"), ("flags", "Flags"),
            ("dropped", "Dropped"), ("array", "Array"), ("resv1", "Resv1"), ("resv2", "Resv2"),
        ];
        (string, string)[] cqOff =
        [
            ("head", "Head"), ("tail", "Tail"), ("ring_mask", "RingMask"), ("ring_entries", "RingEntries"), ("overflow", "Overflow"),
            ("cqes", "Cqes"), ("flags", "Flags"), ("resv1", "Resv1"), ("resv2", "Resv2"),
        ];
        (string, string)[] p =
        [
            ("sq_entries", "SqEntries"), ("cq_entries", "CqEntries"), ("flags", "Flags"), ("sq_thread_cpu", "SqThreadCpu"),
            ("sq_thread_idle", "SqThreadIdle"), ("features", "Features"), ("wq_fd", "WqFd"), ("sq_off", "SqOff"), ("cq_off", "CqOff"),
        ];
        (string, string)[] iov = [("iov_base", "Base"), ("iov_len", "Length")];
        var c = CLayout.Evaluate(Headers, Expressions("struct io_uring_sqe", sqe).Concat(Expressions("struct io_uring_cqe", cqe))
            .Concat(Expressions("struct io_sqring_offsets", sqOff)).Concat(Expressions("struct io_cqring_offsets", cqOff))
            .Concat(Expressions("struct io_uring_params", p)).Concat(Expressions("struct iovec", iov)));
        Assert.Multiple(() =>
        {
            Check<IoUringSqe>(c, "struct io_uring_sqe", sqe);
            Check<IoUringCqe>(c, "struct io_uring_cqe", cqe);
            Check<IoUringSqOffsets>(c, "struct io_sqring_offsets", sqOff);
            Check<IoUringCqOffsets>(c, "struct io_cqring_offsets", cqOff);
            Check<IoUringParams>(c, "struct io_uring_params", p);
            Check<IoVec>(c, "struct iovec", iov);
        });
    }

    [Test]
    public void The_numbers_match_the_headers()
    {
        (string C, long Ours)[] checks =
        [
            ("__NR_io_uring_setup", IoUringLibc.SysIoUringSetup), ("__NR_io_uring_enter", IoUringLibc.SysIoUringEnter),
            ("IORING_OP_READV", IoUringLibc.OpReadv), ("IORING_OP_WRITEV", IoUringLibc.OpWritev),
            ("IORING_OP_FSYNC", IoUringLibc.OpFsync), ("IORING_OP_POLL_ADD", IoUringLibc.OpPollAdd),
            ("IOSQE_IO_LINK", IoUringLibc.SqeIoLink), ("ECANCELED", IoUringLibc.ECANCELED), ("IORING_FSYNC_DATASYNC", IoUringLibc.FsyncDatasync),
            ("IORING_ENTER_GETEVENTS", IoUringLibc.EnterGetEvents), ("IORING_FEAT_SINGLE_MMAP", IoUringLibc.FeatSingleMmap),
            ("IORING_FEAT_NODROP", IoUringLibc.FeatNoDrop), ("IORING_OFF_SQ_RING", IoUringLibc.OffSqRing),
            ("IORING_OFF_CQ_RING", IoUringLibc.OffCqRing), ("IORING_OFF_SQES", IoUringLibc.OffSqes), ("POLLIN", IoUringLibc.PollIn),
            ("PROT_READ", IoUringLibc.ProtRead), ("PROT_WRITE", IoUringLibc.ProtWrite), ("MAP_SHARED", IoUringLibc.MapShared),
            ("MAP_POPULATE", IoUringLibc.MapPopulate),
            ("FALLOC_FL_KEEP_SIZE", FileSpace.KeepSize), ("FALLOC_FL_PUNCH_HOLE", FileSpace.PunchHole), ("FALLOC_FL_ZERO_RANGE", FileSpace.ZeroRange),
            ("VIRTIO_BLK_T_DISCARD", VirtioBlockRequestType.Discard), ("VIRTIO_BLK_T_WRITE_ZEROES", VirtioBlockRequestType.WriteZeroes),
        ];
        var c = CLayout.Evaluate(Headers.Append("linux/virtio_blk.h"), checks.Select(x => x.C));
        Assert.Multiple(() =>
        {
            foreach ((string name, long ours) in checks)
                Assert.That((ulong)ours, Is.EqualTo(c[name]), name);
        });
    }

    [Test]
    public void The_discard_range_and_config_offsets_match_struct_virtio_blk_config()
    {
        var c = CLayout.Evaluate(["linux/virtio_blk.h"],
        [
            "sizeof(struct virtio_blk_discard_write_zeroes)", "offsetof(struct virtio_blk_config, num_queues)",
            "offsetof(struct virtio_blk_config, max_discard_sectors)", "offsetof(struct virtio_blk_config, max_discard_seg)",
            "offsetof(struct virtio_blk_config, discard_sector_alignment)", "offsetof(struct virtio_blk_config, max_write_zeroes_sectors)",
            "offsetof(struct virtio_blk_config, max_write_zeroes_seg)", "offsetof(struct virtio_blk_config, write_zeroes_may_unmap)",
            "VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP",
        ]);
        Assert.Multiple(() =>
        {
            Assert.That(c["sizeof(struct virtio_blk_discard_write_zeroes)"], Is.EqualTo((ulong)BlockRequestQueue.RangeSize));
            Assert.That(c["offsetof(struct virtio_blk_config, num_queues)"], Is.EqualTo(34UL));
            Assert.That(c["offsetof(struct virtio_blk_config, max_discard_sectors)"], Is.EqualTo(36UL));
            Assert.That(c["offsetof(struct virtio_blk_config, max_discard_seg)"], Is.EqualTo(40UL));
            Assert.That(c["offsetof(struct virtio_blk_config, discard_sector_alignment)"], Is.EqualTo(44UL));
            Assert.That(c["offsetof(struct virtio_blk_config, max_write_zeroes_sectors)"], Is.EqualTo(48UL));
            Assert.That(c["offsetof(struct virtio_blk_config, max_write_zeroes_seg)"], Is.EqualTo(52UL));
            Assert.That(c["offsetof(struct virtio_blk_config, write_zeroes_may_unmap)"], Is.EqualTo(56UL));
            Assert.That(c["VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP"], Is.EqualTo(1UL));
        });
    }
}
