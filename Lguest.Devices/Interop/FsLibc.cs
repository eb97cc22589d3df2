using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// The libc calls and kernel constants of the shared-folder file system (&lt;fcntl.h&gt;, &lt;linux/openat2.h&gt;,
/// &lt;sys/stat.h&gt;, &lt;errno.h&gt;). Names are raw bytes, NUL-terminated by the caller: a host file name need not
/// be UTF-8 and must round-trip to the guest as it is. The flag values are x86_64's (the only architecture
/// the launcher runs on; a FUSE request carries the guest's own values, which are the same); a test checks
/// them against the C headers.
/// </summary>
internal static unsafe partial class FsLibc
{
    public const int ORdonly = 0;             // O_RDONLY
    public const int OWronly = 1;             // O_WRONLY
    public const int ORdwr = 2;               // O_RDWR
    public const int OAccmode = 3;            // O_ACCMODE
    public const int OCreat = 0x40;           // O_CREAT
    public const int OExcl = 0x80;            // O_EXCL
    public const int ONoctty = 0x100;         // O_NOCTTY
    public const int OTrunc = 0x200;          // O_TRUNC
    public const int OAppend = 0x400;         // O_APPEND
    public const int ONonblock = 0x800;       // O_NONBLOCK
    public const int ODsync = 0x1000;         // O_DSYNC
    public const int ODirect = 0x4000;        // O_DIRECT
    public const int ODirectory = 0x10000;    // O_DIRECTORY
    public const int ONofollow = 0x20000;     // O_NOFOLLOW
    public const int ONoatime = 0x40000;      // O_NOATIME
    public const int OCloexec = 0x80000;      // O_CLOEXEC
    public const int OSync = 0x101000;        // O_SYNC (includes O_DSYNC)
    public const int OPath = 0x200000;        // O_PATH

    public const ulong ResolveNoXdev = 0x01;       // RESOLVE_NO_XDEV
    public const ulong ResolveNoMagiclinks = 0x02; // RESOLVE_NO_MAGICLINKS
    public const ulong ResolveNoSymlinks = 0x04;   // RESOLVE_NO_SYMLINKS
    public const ulong ResolveBeneath = 0x08;      // RESOLVE_BENEATH

    public const int AtSymlinkNofollow = 0x100;    // AT_SYMLINK_NOFOLLOW
    public const int AtRemovedir = 0x200;          // AT_REMOVEDIR
    public const int AtSymlinkFollow = 0x400;      // AT_SYMLINK_FOLLOW
    public const int AtEmptyPath = 0x1000;         // AT_EMPTY_PATH

    public const uint StatxBasicStats = 0x7ff;     // STATX_BASIC_STATS

    public const uint SIfmt = 0xf000;   // S_IFMT
    public const uint SIfsock = 0xc000; // S_IFSOCK
    public const uint SIflnk = 0xa000;  // S_IFLNK
    public const uint SIfreg = 0x8000;  // S_IFREG
    public const uint SIfblk = 0x6000;  // S_IFBLK
    public const uint SIfdir = 0x4000;  // S_IFDIR
    public const uint SIfchr = 0x2000;  // S_IFCHR
    public const uint SIfifo = 0x1000;  // S_IFIFO
    public const uint SIsuid = 0x800;   // S_ISUID
    public const uint SIsgid = 0x400;   // S_ISGID

    public const int SeekSet = 0;   // SEEK_SET
    public const int SeekData = 3;  // SEEK_DATA
    public const int SeekHole = 4;  // SEEK_HOLE

    public const uint RenameNoreplace = 1; // RENAME_NOREPLACE
    public const uint RenameExchange = 2;  // RENAME_EXCHANGE

    public const int FallocFlKeepSize = 0x01;     // FALLOC_FL_KEEP_SIZE, <linux/falloc.h>
    public const int FallocFlPunchHole = 0x02;    // FALLOC_FL_PUNCH_HOLE
    public const int FallocFlZeroRange = 0x10;    // FALLOC_FL_ZERO_RANGE

    public const long UtimeNow = (1L << 30) - 1;  // UTIME_NOW
    public const long UtimeOmit = (1L << 30) - 2; // UTIME_OMIT

    /// <summary>SYS_openat2, &lt;asm/unistd_64.h&gt;: glibc 2.36 has no wrapper.</summary>
    public const long SysOpenat2 = 437;

    /// <summary>Creates an O_PATH handle of <paramref name="path"/> (a host path given by the person running the launcher).</summary>
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    /// <summary>close(2), without touching the saved errno: a handle released late must not change the error another call reports.</summary>
    [LibraryImport("libc", EntryPoint = "close")]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Openat2Syscall(long number, SafeHandle dirfd, byte* path, OpenHow* how, nuint size);

    /// <summary>
    /// openat2(2): <paramref name="path"/> (NUL-terminated) relative to <paramref name="dirfd"/>, the kernel
    /// resolving it as <paramref name="how"/> says. Returns the new descriptor or -1 (errno set).
    /// </summary>
    public static int Openat2(SafeHandle dirfd, ReadOnlySpan<byte> path, in OpenHow how)
    {
        OpenHow copy = how;
        fixed (byte* p = path)
        {
            // Safety: path is pinned and NUL-terminated (every caller passes a terminated name); copy lives on the stack.
            return (int)Openat2Syscall(SysOpenat2, dirfd, p, &copy, (nuint)sizeof(OpenHow));
        }
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    public static partial int StatxAt(SafeHandle dirfd, ReadOnlySpan<byte> path, int flags, uint mask, out Statx buffer);

    [LibraryImport("libc", EntryPoint = "fstatfs", SetLastError = true)]
    public static partial int Fstatfs(SafeHandle fd, out StatFs buffer);

    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true)]
    public static partial nint Readlinkat(SafeHandle dirfd, ReadOnlySpan<byte> path, Span<byte> buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "symlinkat", SetLastError = true)]
    public static partial int Symlinkat(ReadOnlySpan<byte> target, SafeHandle dirfd, ReadOnlySpan<byte> path);

    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true)]
    public static partial int Mkdirat(SafeHandle dirfd, ReadOnlySpan<byte> path, uint mode);

    [LibraryImport("libc", EntryPoint = "mknodat", SetLastError = true)]
    public static partial int Mknodat(SafeHandle dirfd, ReadOnlySpan<byte> path, uint mode, ulong device);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    public static partial int Unlinkat(SafeHandle dirfd, ReadOnlySpan<byte> path, int flags);

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true)]
    public static partial int Renameat2(SafeHandle olddirfd, ReadOnlySpan<byte> oldpath, SafeHandle newdirfd, ReadOnlySpan<byte> newpath, uint flags);

    [LibraryImport("libc", EntryPoint = "linkat", SetLastError = true)]
    public static partial int Linkat(SafeHandle olddirfd, ReadOnlySpan<byte> oldpath, SafeHandle newdirfd, ReadOnlySpan<byte> newpath, int flags);

    [LibraryImport("libc", EntryPoint = "fchmodat", SetLastError = true)]
    public static partial int Fchmodat(SafeHandle dirfd, ReadOnlySpan<byte> path, uint mode, int flags);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    public static partial int Fchmod(SafeHandle fd, uint mode);

    [LibraryImport("libc", EntryPoint = "fchownat", SetLastError = true)]
    public static partial int Fchownat(SafeHandle dirfd, ReadOnlySpan<byte> path, uint owner, uint group, int flags);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true)]
    public static partial int Utimensat(SafeHandle dirfd, ReadOnlySpan<byte> path, ReadOnlySpan<Timespec> times, int flags);

    [LibraryImport("libc", EntryPoint = "faccessat", SetLastError = true)]
    public static partial int Faccessat(SafeHandle dirfd, ReadOnlySpan<byte> path, int mode, int flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(SafeHandle fd, long length);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(SafeHandle fd);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    public static partial int Fdatasync(SafeHandle fd);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    public static partial int Fallocate(SafeHandle fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    public static partial long Lseek(SafeHandle fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "getdents64", SetLastError = true)]
    public static partial nint Getdents64(SafeHandle fd, Span<byte> buffer, nuint size);

    /// <summary>struct timespec, &lt;time.h&gt;.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
