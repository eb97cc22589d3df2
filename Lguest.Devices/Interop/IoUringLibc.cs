using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// io_uring's system calls (x86-64 numbers; glibc has no wrappers) and constants from &lt;linux/io_uring.h&gt;,
/// plus mmap. The numbers are checked against the C headers by a test.
/// </summary>
internal static unsafe partial class IoUringLibc
{
    public const long SysIoUringSetup = 425; // __NR_io_uring_setup, <asm/unistd_64.h>
    public const long SysIoUringEnter = 426; // __NR_io_uring_enter

    public const byte OpReadv = 1;      // IORING_OP_READV
    public const byte OpWritev = 2;     // IORING_OP_WRITEV
    public const byte OpFsync = 3;      // IORING_OP_FSYNC
    public const byte OpPollAdd = 6;    // IORING_OP_POLL_ADD

    public const byte SqeIoLink = 1 << 2;   // IOSQE_IO_LINK: the next entry starts after this one, and is cancelled if it fails
    public const uint FsyncDatasync = 1;    // IORING_FSYNC_DATASYNC
    public const uint EnterGetEvents = 1;   // IORING_ENTER_GETEVENTS
    public const uint FeatSingleMmap = 1;   // IORING_FEAT_SINGLE_MMAP
    public const uint FeatNoDrop = 2;       // IORING_FEAT_NODROP
    public const uint SetupSingleIssuer = 1 << 12;  // IORING_SETUP_SINGLE_ISSUER (6.0): one thread submits
    public const uint SetupDeferTaskrun = 1 << 13;  // IORING_SETUP_DEFER_TASKRUN (6.1): completion work runs only in that thread's waits

    public const long OffSqRing = 0;            // IORING_OFF_SQ_RING
    public const long OffCqRing = 0x8000000;    // IORING_OFF_CQ_RING
    public const long OffSqes = 0x10000000;     // IORING_OFF_SQES

    public const uint PollIn = 1;       // POLLIN
    public const int RwfNoWait = 0x8;   // RWF_NOWAIT, <linux/fs.h>: fail with EAGAIN rather than wait for the disk

    public const int ProtRead = 1;          // PROT_READ, <sys/mman.h>
    public const int ProtWrite = 2;         // PROT_WRITE
    public const int MapShared = 1;         // MAP_SHARED
    public const int MapPopulate = 0x8000;  // MAP_POPULATE
    public const nint MapFailed = -1;

    public const int EINTR = 4;
    public const int EINVAL = 22;
    public const int EAGAIN = 11;
    public const int EOPNOTSUPP = 95;
    public const int ECANCELED = 125;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall2(long number, uint entries, IoUringParams* p);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall6(long number, int fd, uint toSubmit, uint minComplete, uint flags, nint sig, nuint sigSize);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "preadv", SetLastError = true)]
    public static partial nint Preadv(int fd, IoVec* iov, int count, long offset);

    [LibraryImport("libc", EntryPoint = "pwritev", SetLastError = true)]
    public static partial nint Pwritev(int fd, IoVec* iov, int count, long offset);

    [LibraryImport("libc", EntryPoint = "preadv2", SetLastError = true)]
    public static partial nint Preadv2(int fd, IoVec* iov, int count, long offset, int flags);

    [LibraryImport("libc", EntryPoint = "pwritev2", SetLastError = true)]
    public static partial nint Pwritev2(int fd, IoVec* iov, int count, long offset, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary>io_uring_setup(2): a new ring's descriptor, or -1 (errno).</summary>
    public static int Setup(uint entries, IoUringParams* p) => (int)Syscall2(SysIoUringSetup, entries, p);

    /// <summary>io_uring_enter(2) without a signal mask: entries consumed, or -1 (errno).</summary>
    public static int Enter(int fd, uint toSubmit, uint minComplete, uint flags) =>
        (int)Syscall6(SysIoUringEnter, fd, toSubmit, minComplete, flags, 0, 0);
}
