using System.Runtime.InteropServices;

namespace Lguest.Interop;

/// <summary>The few libc calls the launcher makes itself, source-generated so they are AOT-safe.</summary>
internal static unsafe partial class Libc
{
    public const int ProtNone = 0;          // PROT_NONE, <sys/mman.h>
    public const int ProtRead = 1;          // PROT_READ
    public const int ProtWrite = 2;         // PROT_WRITE
    public const int MapShared = 0x01;      // MAP_SHARED
    public const int MapPrivate = 0x02;     // MAP_PRIVATE
    public const int MapFixed = 0x10;       // MAP_FIXED
    public const int Map32Bit = 0x40;       // MAP_32BIT (x86-64): map in the low 2 GiB
    public const int MapAnonymous = 0x20;   // MAP_ANONYMOUS
    public const int MapNoReserve = 0x4000; // MAP_NORESERVE
    public const int MadvDontNeed = 4;      // MADV_DONTNEED
    public const int MadvDontFork = 10;     // MADV_DONTFORK
    public const int MadvHugePage = 14;     // MADV_HUGEPAGE
    public static readonly nint MapFailed = -1;

    public const int EfdCloexec = 0x80000;  // EFD_CLOEXEC, <sys/eventfd.h>
    public const int EfdNonblock = 0x800;   // EFD_NONBLOCK

    public const short PollIn = 0x1;        // POLLIN, <poll.h>
    public const short PollOut = 0x4;       // POLLOUT
    public const short PollErr = 0x8;       // POLLERR
    public const short PollHup = 0x10;      // POLLHUP

    public const int EINTR = 4;
    public const int EAGAIN = 11;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    public static partial int Madvise(nint address, nuint length, int advice);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(FileDescriptor fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(FileDescriptor fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "readv", SetLastError = true)]
    public static partial nint Readv(SafeHandle fd, IoVec* vectors, int count);

    [LibraryImport("libc", EntryPoint = "writev", SetLastError = true)]
    public static partial nint Writev(SafeHandle fd, IoVec* vectors, int count);

    [LibraryImport("libc", EntryPoint = "preadv", SetLastError = true)]
    public static partial nint Preadv(SafeHandle fd, IoVec* vectors, int count, long offset);

    [LibraryImport("libc", EntryPoint = "pwritev", SetLastError = true)]
    public static partial nint Pwritev(SafeHandle fd, IoVec* vectors, int count, long offset);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(FileDescriptor fd, nuint request, void* argument);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(FileDescriptor fd, nuint request, nuint argument);

    /// <summary>struct iovec, &lt;sys/uio.h&gt;.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct pollfd, &lt;poll.h&gt;.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    /// <summary>The largest iovec count one readv/writev accepts (IOV_MAX on Linux).</summary>
    public const int IovMax = 1024;
}
