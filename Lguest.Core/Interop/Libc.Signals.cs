using System.Runtime.InteropServices;

namespace Lguest.Interop;

/// <summary>The signal calls the KVM backend uses to kick a vCPU thread out of KVM_RUN.</summary>
internal static unsafe partial class Libc
{
    public const int SigBlock = 0;      // SIG_BLOCK, <signal.h>
    public const int SigUnblock = 1;    // SIG_UNBLOCK
    public const int SigSetMask = 2;    // SIG_SETMASK
    public static readonly nint SigIgn = 1; // SIG_IGN

    /// <summary>glibc's sigset_t: 1024 bits, of which the kernel uses the first 64.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SigSet
    {
        public ulong Word0;
        private fixed ulong _rest[15];

        /// <summary>A set holding only <paramref name="signal"/> (1..64).</summary>
        public static SigSet Of(int signal) => new() { Word0 = 1UL << (signal - 1) };
    }

    /// <summary>glibc's struct sigaction on x86_64 (152 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SigAction
    {
        public nint Handler;
        public SigSet Mask;
        public int Flags;
        public nint Restorer;
    }

    /// <summary>struct timespec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "__libc_current_sigrtmin")]
    public static partial int CurrentSigRtMin();

    [LibraryImport("libc", EntryPoint = "__libc_current_sigrtmax")]
    public static partial int CurrentSigRtMax();

    [LibraryImport("libc", EntryPoint = "sigaction", SetLastError = true)]
    public static partial int SigActionSet(int signal, SigAction* action, SigAction* oldAction);

    [LibraryImport("libc", EntryPoint = "pthread_sigmask")]
    public static partial int PthreadSigmask(int how, SigSet* set, SigSet* oldSet);

    [LibraryImport("libc", EntryPoint = "sigtimedwait", SetLastError = true)]
    public static partial int SigTimedWait(SigSet* set, void* info, TimeSpec* timeout);

    [LibraryImport("libc", EntryPoint = "gettid")]
    public static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "getpid")]
    public static partial int GetPid();

    [LibraryImport("libc", EntryPoint = "tgkill", SetLastError = true)]
    public static partial int TgKill(int processId, int threadId, int signal);
}
