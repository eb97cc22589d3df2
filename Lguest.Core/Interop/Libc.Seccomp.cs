using System.Runtime.InteropServices;

namespace Lguest.Interop;

/// <summary>
/// What the launcher needs to filter its own system calls and give up privileges: prctl, the seccomp system
/// call (glibc has no wrapper), the seccomp listener's ioctls, capset and tgkill.
/// </summary>
internal static unsafe partial class Libc
{
    public const int PrSetDumpable = 4;        // PR_SET_DUMPABLE, <linux/prctl.h>
    public const int PrCapbsetDrop = 24;       // PR_CAPBSET_DROP
    public const int PrSetNoNewPrivs = 38;     // PR_SET_NO_NEW_PRIVS
    public const int PrCapAmbient = 47;        // PR_CAP_AMBIENT
    public const int PrCapAmbientClearAll = 4; // PR_CAP_AMBIENT_CLEAR_ALL

    public const long SysSeccomp = 317;        // __NR_seccomp, asm/unistd_64.h

    public const uint SeccompSetModeFilter = 1;          // SECCOMP_SET_MODE_FILTER, <linux/seccomp.h>
    public const uint SeccompFilterFlagTsync = 1;        // SECCOMP_FILTER_FLAG_TSYNC
    public const uint SeccompFilterFlagNewListener = 8;  // SECCOMP_FILTER_FLAG_NEW_LISTENER
    public const uint SeccompFilterFlagTsyncEsrch = 16;  // SECCOMP_FILTER_FLAG_TSYNC_ESRCH
    public const uint SeccompUserNotifFlagContinue = 1;  // SECCOMP_USER_NOTIF_FLAG_CONTINUE
    public const nuint SeccompIoctlNotifRecv = 0xC0502100; // SECCOMP_IOCTL_NOTIF_RECV
    public const nuint SeccompIoctlNotifSend = 0xC0182101; // SECCOMP_IOCTL_NOTIF_SEND

    public const int SIGSYS = 31;
    public const uint LinuxCapabilityVersion3 = 0x20080522; // _LINUX_CAPABILITY_VERSION_3

    /// <summary>struct sock_fprog, &lt;linux/filter.h&gt;.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockFprog
    {
        public ushort Length;
        public void* Filter;
    }

    /// <summary>struct seccomp_notif, &lt;linux/seccomp.h&gt;: 80 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SeccompNotif
    {
        public ulong Id;
        public uint Pid;
        public uint Flags;
        public int Number;
        public uint Architecture;
        public ulong InstructionPointer;
        public fixed ulong Arguments[6];
    }

    /// <summary>struct seccomp_notif_resp: 24 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SeccompNotifResp
    {
        public ulong Id;
        public long Value;
        public int Error;
        public uint Flags;
    }

    public const int ProtExec = 4; // PROT_EXEC, <sys/mman.h>

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    public static partial int Mprotect(nint address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    public static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    public static partial long SystemCall(long number, nuint arg1, nuint arg2, nuint arg3);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nuint count);
}
