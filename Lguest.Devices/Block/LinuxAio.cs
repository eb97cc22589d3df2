using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// Linux's native AIO system calls (x86-64 numbers; glibc has no wrappers) and their structs, &lt;linux/aio_abi.h&gt;:
/// what <see cref="BlockDirectBatch"/> uses to make a batch of buffered reads and writes one system call. The layouts
/// are checked against the C header by a test.
/// </summary>
internal static unsafe partial class LinuxAio
{
    public const long SysIoSetup = 206;     // __NR_io_setup, <asm/unistd_64.h>
    public const long SysIoDestroy = 207;   // __NR_io_destroy
    public const long SysIoGetevents = 208; // __NR_io_getevents
    public const long SysIoSubmit = 209;    // __NR_io_submit

    public const ushort CmdPreadv = 7;      // IOCB_CMD_PREADV
    public const ushort CmdPwritev = 8;     // IOCB_CMD_PWRITEV

    /// <summary>Whether these numbers are this process's (they are x86-64's).</summary>
    public static bool Supported => RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>io_setup(2): a context for <paramref name="events"/> requests at once; 0 or an errno.</summary>
    public static int Setup(uint events, out ulong context)
    {
        ulong ctx = 0;
        long rc = Syscall2(SysIoSetup, events, &ctx);
        context = ctx;
        return rc < 0 ? Marshal.GetLastPInvokeError() : 0;
    }

    /// <summary>io_destroy(2): waits for the context's requests (none are left by its user) and frees it.</summary>
    public static int Destroy(ulong context) => Syscall1(SysIoDestroy, context) < 0 ? Marshal.GetLastPInvokeError() : 0;

    /// <summary>io_submit(2): the number of requests taken (the first <c>n</c>), or minus an errno when none was.</summary>
    public static long Submit(ulong context, long count, Iocb** iocbs)
    {
        long rc = Syscall3(SysIoSubmit, context, count, iocbs);
        return rc < 0 ? -Marshal.GetLastPInvokeError() : rc;
    }

    /// <summary>io_getevents(2) with no timeout: at least <paramref name="min"/> completions; their number or minus an errno.</summary>
    public static long GetEvents(ulong context, long min, long max, IoEvent* events)
    {
        long rc = Syscall5(SysIoGetevents, context, min, max, events, null);
        return rc < 0 ? -Marshal.GetLastPInvokeError() : rc;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall1(long number, ulong context);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall2(long number, uint events, ulong* context);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall3(long number, ulong context, long count, Iocb** iocbs);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall5(long number, ulong context, long min, long max, IoEvent* events, void* timeout);
}

/// <summary>struct iocb, &lt;linux/aio_abi.h&gt; (little-endian: aio_key before aio_rw_flags).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Iocb
{
    public ulong Data;          // aio_data: comes back in the completion
    public uint Key;            // aio_key: the kernel's
    public int RwFlags;         // aio_rw_flags: RWF_*
    public ushort Opcode;       // aio_lio_opcode
    public short RequestPriority;
    public uint Fd;             // aio_fildes
    public ulong Buffer;        // aio_buf: the iovec array for PREADV/PWRITEV
    public ulong Bytes;         // aio_nbytes: the iovec count for PREADV/PWRITEV
    public long Offset;         // aio_offset
    public ulong Reserved2;
    public uint Flags;          // aio_flags
    public uint ResultFd;       // aio_resfd
}

/// <summary>struct io_event, &lt;linux/aio_abi.h&gt;: one completion.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoEvent
{
    public ulong Data;  // the request's aio_data
    public ulong Object; // the address of its iocb
    public long Result;  // bytes transferred, or minus an errno
    public long Result2;
}
