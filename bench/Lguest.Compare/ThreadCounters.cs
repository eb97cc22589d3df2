using System.Runtime.InteropServices;

namespace Lguest.Compare;

/// <summary>
/// Counts the system calls, context switches and CPU time of every thread of this process (the harness's driver thread,
/// the device's workers, the kernel's io_uring workers they start) with perf events, one per thread and kind,
/// read before and after a measurement: counts do not move with the machine's load the way times do. Needs
/// perf_event_open on this process's threads (root, or kernel.perf_event_paranoid at most 1) and the
/// raw_syscalls:sys_enter tracepoint; where either is missing <see cref="TryOpen"/> returns null and the
/// report goes without counts.
/// </summary>
internal sealed unsafe partial class ThreadCounters : IDisposable
{
    private const long SysPerfEventOpen = 298;   // __NR_perf_event_open, <asm/unistd_64.h>
    private const uint TypeSoftware = 1;         // PERF_TYPE_SOFTWARE, <linux/perf_event.h>
    private const uint TypeTracepoint = 2;       // PERF_TYPE_TRACEPOINT
    private const ulong ContextSwitches = 3;     // PERF_COUNT_SW_CONTEXT_SWITCHES
    private const ulong TaskClock = 1;           // PERF_COUNT_SW_TASK_CLOCK: nanoseconds on a CPU
    private const ulong FlagInherit = 1UL << 1;  // perf_event_attr.inherit: threads the counted one starts count too
    private const ulong FlagExcludeHv = 1UL << 7;
    private const int AttrSize = 128;            // PERF_ATTR_SIZE_VER7; the kernel accepts any known version's size
    private const string SysEnterId = "/sys/kernel/tracing/events/raw_syscalls/sys_enter/id";
    private const string SysEnterIdDebugfs = "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id";

    /// <summary>
    /// At most this many threads are counted: a .NET process has a few dozen (runtime, thread pool, the devices'
    /// workers); descriptors are three per thread.
    /// </summary>
    private const int MaxThreads = 512;

    private readonly List<int> _syscalls = [];
    private readonly List<int> _switches = [];
    private readonly List<int> _cpu = [];

    private ThreadCounters()
    {
    }

    /// <summary>System calls, context switches and CPU nanoseconds so far, summed over the counted threads.</summary>
    public readonly record struct Sample(long SystemCalls, long ContextSwitches, long CpuNanoseconds)
    {
        public static Sample operator -(Sample a, Sample b) =>
            new(a.SystemCalls - b.SystemCalls, a.ContextSwitches - b.ContextSwitches, a.CpuNanoseconds - b.CpuNanoseconds);
    }

    /// <summary>
    /// Opens counters on every thread the process has now (call after the devices started their workers). Null,
    /// with the reason, when perf events or the tracepoint are not available.
    /// </summary>
    public static ThreadCounters? TryOpen(out string? problem)
    {
        string? idFile = File.Exists(SysEnterId) ? SysEnterId : File.Exists(SysEnterIdDebugfs) ? SysEnterIdDebugfs : null;
        if (idFile is null || !ulong.TryParse(File.ReadAllText(idFile).Trim(), out ulong sysEnter))
        {
            problem = "no raw_syscalls:sys_enter tracepoint (tracefs not mounted?)";
            return null;
        }
        var counters = new ThreadCounters();
        foreach (string task in Directory.EnumerateDirectories("/proc/self/task").Take(MaxThreads))
        {
            int tid = int.Parse(Path.GetFileName(task), System.Globalization.CultureInfo.InvariantCulture);
            int calls = Open(TypeTracepoint, sysEnter, tid);
            int switches = Open(TypeSoftware, ContextSwitches, tid);
            int cpu = Open(TypeSoftware, TaskClock, tid);
            if (calls < 0 || switches < 0 || cpu < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                foreach (int fd in new[] { calls, switches, cpu })
                {
                    if (fd >= 0)
                        _ = Close(fd);
                }
                if (!Directory.Exists(task))
                    continue; // the thread ended meanwhile
                counters.Dispose();
                problem = $"perf_event_open: {Marshal.GetPInvokeErrorMessage(errno)}";
                return null;
            }
            counters._syscalls.Add(calls);
            counters._switches.Add(switches);
            counters._cpu.Add(cpu);
        }
        problem = null;
        return counters;
    }

    /// <summary>The counts now.</summary>
    public Sample Read() => new(Sum(_syscalls), Sum(_switches), Sum(_cpu));

    public void Dispose()
    {
        foreach (int fd in _syscalls.Concat(_switches).Concat(_cpu))
            _ = Close(fd);
        _syscalls.Clear();
        _switches.Clear();
        _cpu.Clear();
    }

    private static long Sum(List<int> fds)
    {
        long total = 0;
        foreach (int fd in fds)
        {
            ulong value;
            if (ReadRaw(fd, &value, sizeof(ulong)) == sizeof(ulong))
                total += (long)value;
        }
        return total;
    }

    private static int Open(uint type, ulong config, int tid)
    {
        // struct perf_event_attr: type (u32), size (u32), config (u64), sample_period (u64), sample_type (u64),
        // read_format (u64), then the flag bits (u64); the rest zero.
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        *(uint*)attr = type;
        *(uint*)(attr + 4) = AttrSize;
        *(ulong*)(attr + 8) = config;
        *(ulong*)(attr + 40) = FlagInherit | FlagExcludeHv;
        return (int)PerfEventOpen(SysPerfEventOpen, attr, tid, -1, -1, 0);
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long PerfEventOpen(long number, byte* attr, int pid, int cpu, int groupFd, ulong flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadRaw(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
