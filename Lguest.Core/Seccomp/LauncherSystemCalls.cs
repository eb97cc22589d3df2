using Lguest.Interop;
using Lguest.Kvm;

namespace Lguest.Seccomp;

/// <summary>
/// The table of system calls a running launcher makes, by who makes them. It was measured, not guessed: every
/// Linux-layer scenario and the benchmarks run with <c>--seccomp=log</c>, which names each call outside the table
/// (see Lguest.Core/Seccomp/README.md for the commands). Hot calls come first: the filter tries rules in order.
/// </summary>
internal static class LauncherSystemCalls
{
    // Requests the running launcher sends with ioctl (the request is an unsigned int: the low 32 bits are it).
    private static readonly uint[] s_kvmRunning =
    [
        KvmIoctl.Run, KvmIoctl.IrqLine, KvmIoctl.Ioeventfd, KvmIoctl.Irqfd, KvmIoctl.SetGsiRouting,
        KvmIoctl.GetRegs, KvmIoctl.SetRegs, KvmIoctl.GetSregs, KvmIoctl.SetSregs, KvmIoctl.GetMsrs, KvmIoctl.SetMsrs,
        KvmIoctl.SetFpu, KvmIoctl.GetLapic, KvmIoctl.SetLapic, KvmIoctl.SetCpuid2, KvmIoctl.KvmclockCtrl,
        KvmIoctl.SetSignalMask,
    ];

    // A reset builds a new VM on the same /dev/kvm (the seed's reboot), and a snapshot reads and writes all state.
    private static readonly uint[] s_kvmRebuildAndState =
    [
        KvmIoctl.CheckExtension, KvmIoctl.GetVcpuMmapSize, KvmIoctl.GetSupportedCpuid, KvmIoctl.CreateVm,
        KvmIoctl.CreateVcpu, KvmIoctl.SetUserMemoryRegion, KvmIoctl.SetTssAddr, KvmIoctl.SetIdentityMapAddr,
        KvmIoctl.CreateIrqchip, KvmIoctl.CreatePit2, KvmIoctl.GetMsrIndexList, KvmIoctl.GetMsrFeatureIndexList,
        KvmIoctl.GetIrqchip, KvmIoctl.SetIrqchip, KvmIoctl.GetClock, KvmIoctl.SetClock, KvmIoctl.GetPit2,
        KvmIoctl.SetPit2, KvmIoctl.GetFpu, KvmIoctl.GetCpuid2, KvmIoctl.GetMpState, KvmIoctl.SetMpState,
        KvmIoctl.GetVcpuEvents, KvmIoctl.SetVcpuEvents, KvmIoctl.GetDebugRegs, KvmIoctl.SetDebugRegs,
        KvmIoctl.SetTscKhz, KvmIoctl.GetTscKhz, KvmIoctl.GetXsave, KvmIoctl.SetXsave, KvmIoctl.GetXcrs,
        KvmIoctl.SetXcrs, KvmIoctl.GetXsave2,
    ];

    private static readonly uint[] s_terminal =
    [
        0x5401, // TCGETS: the raw terminal reads its settings
        0x5402, // TCSETS: and restores them when the guest stops
        0x5403, // TCSETSW
        0x5404, // TCSETSF
        0x5413, // TIOCGWINSZ
        0x541B, // FIONREAD
        0x5421, // FIONBIO
        0x5451, // FIOCLEX
    ];

    // A tap's offloads follow the features the guest's driver accepts, set when it does; no new tap (TUNSETIFF).
    private static readonly uint[] s_tap =
    [
        0x400454D0, // TUNSETOFFLOAD
        0x400454D8, // TUNSETVNETHDRSZ
        0x800454D7, // TUNGETVNETHDRSZ
        0x800454CF, // TUNGETFEATURES
        0x800454D2, // TUNGETIFF
    ];

    private static readonly uint[] s_seccompListener =
    [
        0xC0502100, // SECCOMP_IOCTL_NOTIF_RECV  _IOWR('!', 0, struct seccomp_notif)
        0xC0182101, // SECCOMP_IOCTL_NOTIF_SEND  _IOWR('!', 1, struct seccomp_notif_resp)
        0x40082102, // SECCOMP_IOCTL_NOTIF_ID_VALID _IOW('!', 2, __u64)
        0x80082102, // the same, as kernels before 5.17 numbered it
    ];

    // The flags glibc's pthread_create passes to clone: a thread, never a process.
    private const uint ThreadCloneFlags = 0x3D0F00; // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID

    private const uint PrSetDumpable = 4, PrSetName = 15, PrGetName = 16, PrSetVma = 0x53564D41; // <linux/prctl.h>
    private const uint AfUnix = 1; // AF_UNIX
    private const int ENOSYS = 38;
    private const int EACCES = 13;

    /// <summary>Every call of the launcher and the in-tree devices with <paramref name="features"/>, hot first.</summary>
    public static IEnumerable<SystemCallRule> For(LauncherFeatures features)
    {
        IEnumerable<SystemCallRule> rules = Hot().Concat(Runtime()).Concat(Devices());
        if (features.HasFlag(LauncherFeatures.SharedFolders))
            rules = rules.Concat(SharedFolders());
        if (features.HasFlag(LauncherFeatures.UnixSocketConnections))
            rules = rules.Concat(UnixSocketConnections());
        if (features.HasFlag(LauncherFeatures.ControlSocket))
            rules = rules.Concat(ControlSocket());
        if (features.HasFlag(LauncherFeatures.Snapshots))
            rules = rules.Concat(Snapshots());
        if (JitRuntime.IsRunning)
        {
            rules = rules.Concat(JitRuntimeExit());
            if (features.HasFlag(LauncherFeatures.ControlSocket))
                rules = rules.Concat(JitControlSocket());
        }
        return rules;
    }

    /// <summary>What every exit and every queue notification costs: tried first.</summary>
    private static IEnumerable<SystemCallRule> Hot() =>
    [
        SystemCallRule.WhereArgument("ioctl", 1, [.. s_kvmRunning, .. s_kvmRebuildAndState, .. s_terminal, .. s_tap, .. s_seccompListener],
            "KVM_RUN and the vCPU's and VM's other requests; the terminal; a tap's offloads; the seccomp listener (--seccomp=log)"),
        SystemCallRule.Any("futex", "locks, wake-ups and waits of every thread"),
        SystemCallRule.Any("read", "eventfds (queue kicks, stop signals), the tap, the terminal, /dev/lguest"),
        SystemCallRule.Any("write", "eventfds (interrupts, wake-ups), the tap, the console, logs"),
        SystemCallRule.Any("epoll_wait", "device workers and the socket engine sleep here"),
        SystemCallRule.Any("epoll_pwait", "the same, as glibc may spell it"),
        SystemCallRule.Any("io_uring_enter", "block and net queues submit and reap in flight requests"),
        SystemCallRule.Any("pread64", "block reads (sync engine), /dev/lguest"),
        SystemCallRule.Any("pwrite64", "block writes (sync engine), /dev/lguest requests"),
        SystemCallRule.Any("preadv", "block reads of a scattered request"),
        SystemCallRule.Any("pwritev", "block writes of a scattered request"),
        SystemCallRule.Any("preadv2", "block reads with flags"),
        SystemCallRule.Any("pwritev2", "block writes with flags (RWF_NOWAIT: whether the image takes non-blocking buffered writes)"),
        SystemCallRule.Any("readv", "the tap: one frame in from scattered buffers"),
        SystemCallRule.Any("writev", "the tap: one frame out from scattered buffers"),
        SystemCallRule.Any("poll", "the console's and tap's waits"),
        SystemCallRule.Any("ppoll", "the same, as glibc may spell it"),
        SystemCallRule.Any("rt_sigtimedwait", "a stopping vCPU takes its pending kick signal"),
        SystemCallRule.WhereArgument("tgkill", 0, [(uint)Environment.ProcessId],
            "kicking a vCPU thread out of KVM_RUN, the runtime's thread suspension; only this process's threads"),
    ];

    /// <summary>The .NET runtime: memory, threads, signals, time.</summary>
    private static IEnumerable<SystemCallRule> Runtime() =>
    [
        SystemCallRule.Any("mmap", "the GC's heap, thread stacks, vring and buffer mappings"),
        SystemCallRule.Any("munmap", "the same, given back"),
        SystemCallRule.Any("mprotect", "stack guards, the GC's commits"),
        SystemCallRule.Any("madvise", "the GC's decommits; guest memory given back on reset"),
        SystemCallRule.Any("mremap", "glibc's realloc of large blocks"),
        SystemCallRule.Any("brk", "glibc's malloc"),
        SystemCallRule.Any("membarrier", "the runtime's process-wide write barrier for thread suspension"),
        SystemCallRule.Any("sched_yield", "spin waits"),
        SystemCallRule.Any("sched_getaffinity", "processor count"),
        SystemCallRule.WhereArgument("sched_setaffinity", 0, [0],
            "the JIT runtime gives a new thread the process's CPU set (seen under lguest --jail); the caller's own thread only"),
        SystemCallRule.WhereArgument("prlimit64", 0, [0], "getrlimit: the GC reads the address-space limit when it sizes "
            + "itself (found by the GC self-test under --seccomp=log); this process only, which without capabilities can only "
            + "lower its own limits"),
        SystemCallRule.Any("sysinfo", "the GC's memory load, read at each collection (a collection under the filter that "
            + "lacked it stopped the thread holding the GC's lock, and with it every thread that allocated)"),
        SystemCallRule.Any("sched_getparam", "a thread's priority (Thread.Priority)"),
        SystemCallRule.Any("sched_getscheduler", "the same"),
        SystemCallRule.Any("sched_setscheduler", "the same, set on a new thread"),
        SystemCallRule.Any("sched_get_priority_max", "the same"),
        SystemCallRule.Any("sched_get_priority_min", "the same"),
        SystemCallRule.Any("getrusage", "the thread pool measures its CPU use"),
        SystemCallRule.Any("nanosleep", "Thread.Sleep"),
        SystemCallRule.Any("clock_nanosleep", "the same, as glibc spells it"),
        SystemCallRule.Any("clock_gettime", "time when the vDSO is not used"),
        SystemCallRule.Any("gettimeofday", "the same"),
        SystemCallRule.Any("getpid", "the runtime; the SIGSYS handler, to kill its own process"),
        SystemCallRule.Any("gettid", "the runtime's thread ids"),
        SystemCallRule.Any("rt_sigprocmask", "signal masks of new threads and vCPUs"),
        SystemCallRule.Any("rt_sigreturn", "returning from a signal handler (the vCPU kick, thread suspension)"),
        SystemCallRule.Any("rt_sigaction", "the runtime's handlers; the SIGSYS handler sets SIGSYS back to its default before it kills"),
        SystemCallRule.Any("sigaltstack", "each thread's alternate stack for the runtime's handlers"),
        SystemCallRule.WhereArgument("clone", 0, [ThreadCloneFlags], "new threads (the thread pool grows while running), never a process"),
        SystemCallRule.Fails("clone3", ENOSYS, "its flags are in memory a filter cannot read: glibc falls back to clone"),
        SystemCallRule.Any("set_robust_list", "each new thread"),
        SystemCallRule.Any("rseq", "each new thread"),
        SystemCallRule.WhereArgument("prctl", 0, [PrSetName, PrGetName, PrSetDumpable, PrSetVma],
            "thread names; no core dump of guest memory when the SIGSYS handler kills; glibc names mappings"),
        SystemCallRule.Any("getrandom", "hash seeds, virtio-rng"),
        SystemCallRule.Any("exit", "a thread ends"),
        SystemCallRule.Any("exit_group", "the launcher ends"),
        SystemCallRule.Any("restart_syscall", "a call interrupted by the vCPU kick resumes"),
        SystemCallRule.Any("close", "files, eventfds and sockets closed when a device resets or the machine stops"),
        SystemCallRule.Fails("openat", EACCES,
            "no new file once the guest runs (unless a feature below allows it): glibc's malloc reads "
            + "/sys/devices/system/cpu/online for a thread's first arena and falls back to sched_getaffinity"),
        SystemCallRule.Any("fstat", "the runtime and the console inspect open files"),
        SystemCallRule.Any("newfstatat", "the same (fstatat with AT_EMPTY_PATH)"),
        SystemCallRule.Any("statx", "the same, as newer glibc spells it"),
        SystemCallRule.Any("lseek", "the console's and block's open files"),
        SystemCallRule.Any("fcntl", "non-blocking flags on the tap and sockets"),
        SystemCallRule.Any("getuid", "the runtime"),
        SystemCallRule.Any("geteuid", "the runtime"),
        SystemCallRule.Any("uname", "the runtime"),
    ];

    /// <summary>The in-tree devices' queues and back ends, created again each time the driver resets a device.</summary>
    private static IEnumerable<SystemCallRule> Devices() =>
    [
        SystemCallRule.Any("eventfd2", "queue kicks, interrupts and stop signals, made when a driver activates a device"),
        SystemCallRule.Any("epoll_create1", "a device worker's wait set"),
        SystemCallRule.Any("epoll_ctl", "adding the queue kicks, the tap and sockets to a wait set"),
        SystemCallRule.Any("io_uring_setup", "a block or net queue's ring, made on activation"),
        SystemCallRule.Any("io_uring_register", "the ring's eventfd and files"),
        SystemCallRule.Any("fsync", "a guest's FLUSH; virtio-fs FSYNC"),
        SystemCallRule.Any("fdatasync", "a guest's FLUSH"),
        SystemCallRule.Any("fallocate", "DISCARD and WRITE_ZEROES punch holes and zero ranges"),
        SystemCallRule.Any("ftruncate", "growing a block image or a shared file"),
        SystemCallRule.Any("flock", "a disk image's lock, released when the machine stops; virtio-fs SETLK"),
        SystemCallRule.Any("dup", "the console duplicates its descriptors"),
        SystemCallRule.Any("pipe2", "the socket engine's wake-up pipe"),
        SystemCallRule.Any("recvfrom", "vsock connections and the control socket read"),
        SystemCallRule.Any("sendto", "vsock connections and the control socket write"),
        SystemCallRule.Any("recvmsg", "the same, scattered"),
        SystemCallRule.Any("sendmsg", "the same, scattered"),
        SystemCallRule.Any("shutdown", "a vsock connection closes one way"),
        SystemCallRule.Any("getsockopt", "socket errors after a non-blocking connect"),
        SystemCallRule.Any("setsockopt", "socket buffer sizes"),
    ];

    /// <summary>virtio-fs: every file operation of the guest, resolved under the shared root (openat2 RESOLVE_BENEATH).</summary>
    private static IEnumerable<SystemCallRule> SharedFolders() =>
    [
        SystemCallRule.Any("openat", "opening below a directory descriptor of the shared root"),
        SystemCallRule.Any("openat2", "every path the guest names, resolved beneath the root"),
        SystemCallRule.Any("getdents64", "READDIR"),
        SystemCallRule.Any("readlinkat", "READLINK"),
        SystemCallRule.Any("mkdirat", "MKDIR"),
        SystemCallRule.Any("mknodat", "MKNOD"),
        SystemCallRule.Any("symlinkat", "SYMLINK"),
        SystemCallRule.Any("linkat", "LINK"),
        SystemCallRule.Any("unlinkat", "UNLINK, RMDIR"),
        SystemCallRule.Any("renameat2", "RENAME, RENAME2"),
        SystemCallRule.Any("renameat", "RENAME, as older glibc spells it"),
        SystemCallRule.Any("fchmod", "SETATTR mode"),
        SystemCallRule.Any("fchmodat", "SETATTR mode by path"),
        SystemCallRule.Any("fchown", "SETATTR owner"),
        SystemCallRule.Any("fchownat", "SETATTR owner by path"),
        SystemCallRule.Any("utimensat", "SETATTR times"),
        SystemCallRule.Any("fstatfs", "STATFS"),
        SystemCallRule.Any("statfs", "STATFS"),
        SystemCallRule.Any("copy_file_range", "COPY_FILE_RANGE"),
        SystemCallRule.Any("fgetxattr", "GETXATTR"),
        SystemCallRule.Any("fsetxattr", "SETXATTR"),
        SystemCallRule.Any("flistxattr", "LISTXATTR"),
        SystemCallRule.Any("fremovexattr", "REMOVEXATTR"),
        SystemCallRule.Any("close_range", "releasing handles"),
    ];

    /// <summary>A guest's vsock connection to a host port becomes a connection to a Unix socket.</summary>
    private static IEnumerable<SystemCallRule> UnixSocketConnections() =>
    [
        SystemCallRule.WhereArgument("socket", 0, [AfUnix], "a Unix socket for the guest's connection, no other family"),
        SystemCallRule.Any("connect", "to the listener's path"),
    ];

    /// <summary>The control socket's server accepts clients.</summary>
    private static IEnumerable<SystemCallRule> ControlSocket() =>
    [
        SystemCallRule.Any("accept4", "a client of the control socket or a vsock listener"),
        SystemCallRule.Any("accept", "the same"),
        SystemCallRule.Any("getsockname", "the server's endpoint"),
        SystemCallRule.Any("getpeername", "the client's endpoint"),
        SystemCallRule.Any("socketpair", "the socket engine's wake-up pair"),
        SystemCallRule.Any("sendmmsg", "the HTTP server's batched writes"),
        SystemCallRule.Any("unlink", "the listening socket's file removed when lguest exits"),
        SystemCallRule.Any("stat", "the same file checked first"),
        SystemCallRule.Any("inotify_rm_watch", "the HTTP server's configuration watch dropped at exit"),
    ];

    /// <summary>
    /// The JIT runtime (an embedding application, or <c>dotnet Lguest.Cli.dll</c>; not the NativeAOT <c>lguest</c>)
    /// removes its debugger pipes and diagnostics socket (<c>/tmp/clr-debug-pipe-PID-*</c>,
    /// <c>/tmp/dotnet-diagnostic-PID-*-socket</c>) as the process exits: refused, the exit was a SIGSYS.
    /// </summary>
    private static IEnumerable<SystemCallRule> JitRuntimeExit() =>
    [
        SystemCallRule.Any("unlink", "the JIT runtime's debugger pipes and diagnostics socket removed at exit"),
    ];

    /// <summary>
    /// The JIT runtime loads an assembly at its first use: the API's first PATCH /vm after the boot loads
    /// Microsoft.AspNetCore.Http.Results (openat is allowed with the socket, for snapshots), and the runtime resolves its
    /// path first (realpath). Refused, the first pause was a SIGSYS; the NativeAOT <c>lguest</c> loads nothing.
    /// </summary>
    private static IEnumerable<SystemCallRule> JitControlSocket() =>
    [
        SystemCallRule.Any("readlink", "the JIT runtime resolves the path of an endpoint's assembly loaded at its first call (realpath)"),
    ];

    /// <summary>Writing a snapshot: its files are created while the machine runs.</summary>
    private static IEnumerable<SystemCallRule> Snapshots() =>
    [
        SystemCallRule.Any("openat", "the snapshot's files; /proc/self/pagemap to skip pages never touched"),
        SystemCallRule.Any("stat", "the snapshot's directory looked at first (Directory.CreateDirectory)"),
        SystemCallRule.Any("lstat", "the same"),
        SystemCallRule.Any("mkdir", "the snapshot's directory (Directory.CreateDirectory)"),
        SystemCallRule.Any("mkdirat", "the same, as glibc may spell it"),
        SystemCallRule.Any("unlink", "an old snapshot's file replaced (File.Delete)"),
        SystemCallRule.Any("rename", "the manifest written last, renamed over the old one (File.Move)"),
        SystemCallRule.Any("renameat2", "a finished snapshot replaces an old one atomically"),
        SystemCallRule.Any("renameat", "the same, as older glibc spells it"),
        SystemCallRule.Any("unlinkat", "a half-written snapshot removed"),
        SystemCallRule.Any("getcwd", "a relative --snapshot-to directory made absolute (Path.GetFullPath); SIGSYS on SIGUSR1/2 without it"),
    ];
}
