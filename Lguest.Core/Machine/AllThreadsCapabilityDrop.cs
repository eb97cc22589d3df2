using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Lguest.Interop;

namespace Lguest.Machine;

/// <summary>
/// Empties every thread's capability sets. capset(2) acts on the calling thread only, and the runtime's threads
/// (the finalizer, the signal thread) and the launcher's early ones (the UART output pump) exist before the
/// launcher confines itself. So, as glibc does for setuid across threads, each thread is sent a signal whose
/// handler makes the call on that thread. The handler is 29 bytes of machine code, not managed code: a signal
/// may land on a thread in the middle of anything, and a few instructions that call capset and count are all
/// it may safely do there.
/// </summary>
internal static unsafe class AllThreadsCapabilityDrop
{
    // mov eax, 126 (capset); lea rdi, [header]; lea rsi, [data]; syscall; lock inc dword [counter]; ret.
    // Displacements are from the end of each instruction: header at 32, data at 40, counter at 64.
    private static ReadOnlySpan<byte> Handler =>
    [
        0xB8, 0x7E, 0x00, 0x00, 0x00,             // 0:  mov eax, __NR_capset
        0x48, 0x8D, 0x3D, 20, 0x00, 0x00, 0x00,   // 5:  lea rdi, [rip + 20] -> 32
        0x48, 0x8D, 0x35, 21, 0x00, 0x00, 0x00,   // 12: lea rsi, [rip + 21] -> 40
        0x0F, 0x05,                               // 19: syscall
        0xF0, 0xFF, 0x05, 36, 0x00, 0x00, 0x00,   // 21: lock inc dword [rip + 36] -> 64
        0xC3,                                     // 28: ret
    ];

    private const int HeaderOffset = 32, DataOffset = 40, CounterOffset = 64, PageSize = 4096;
    private const int SaRestart = 0x10000000; // SA_RESTART: a thread's interrupted call goes on
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    /// <summary>Runs capset with empty sets on every thread of the process.</summary>
    /// <exception cref="ConfinementException">A thread did not run it in time, or a call failed.</exception>
    public static void Run()
    {
        nint page = Libc.Mmap(0, PageSize, Libc.ProtRead | Libc.ProtWrite, Libc.MapPrivate | Libc.MapAnonymous, -1, 0);
        if (page == Libc.MapFailed)
            throw Failed("mmap");
        int signal = Libc.CurrentSigRtMax() - 1;
        Libc.SigAction old = default;
        bool installed = false;
        try
        {
            var bytes = new Span<byte>((void*)page, PageSize);
            Handler.CopyTo(bytes);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes[HeaderOffset..], Libc.LinuxCapabilityVersion3);
            // pid 0 (this thread) and two zeroed __user_cap_data_struct follow; the counter starts at 0.
            if (Libc.Mprotect(page, PageSize, Libc.ProtRead | Libc.ProtWrite | Libc.ProtExec) != 0)
                throw Failed("mprotect");
            var action = new Libc.SigAction { Handler = page, Flags = SaRestart };
            if (Libc.SigActionSet(signal, &action, &old) != 0)
                throw Failed("sigaction");
            installed = true;

            int pid = Libc.GetPid(), expected = 0;
            int* counter = (int*)(page + CounterOffset);
            IReadOnlyList<int> targets = Threads();
            for (int round = 1; ; round++)
            {
                foreach (int tid in targets)
                {
                    if (Libc.TgKill(pid, tid, signal) == 0)
                        expected++; // else the thread ended meanwhile
                }
                var clock = Stopwatch.StartNew();
                while (Volatile.Read(ref *counter) < expected)
                {
                    if (clock.Elapsed > Patience)
                        throw new ConfinementException($"capabilities: {expected - *counter} threads did not drop theirs within {Patience.TotalSeconds} s");
                    Thread.Sleep(1);
                }

                // A thread made while the others were being signalled may have inherited its maker's sets from just
                // before that maker dropped them: look at every thread (when /proc is still there to look: not
                // after a chroot) and send another round to those that still hold some.
                List<(int Tid, string Effective)> holding = ThreadsHoldingCapabilities();
                if (holding.Count == 0)
                    break;
                if (round == Rounds)
                    throw new ConfinementException($"capabilities: thread {holding[0].Tid} still has {holding[0].Effective} after {Rounds} rounds");
                targets = [.. holding.Select(h => h.Tid)];
            }
        }
        finally
        {
            // The handler stays mapped: a signal sent but not yet taken must still find code there.
            if (installed)
            {
                var ignore = new Libc.SigAction { Handler = Libc.SigIgn };
                Libc.SigActionSet(signal, &ignore, null);
            }
        }
    }

    /// <summary>Rounds of signals before giving up: each catches the threads made during the one before.</summary>
    private const int Rounds = 5;

    private const string TaskFolder = "/proc/self/task";
    private static int[]? s_threadsBeforeChroot;

    /// <summary>
    /// Notes the threads while /proc is in sight: after a chroot it is not, and the threads are the same ones
    /// (the launcher makes none between the two steps; one made later inherits its maker's empty sets).
    /// </summary>
    public static void NoteThreadsBeforeChroot()
    {
        if (Directory.Exists(TaskFolder))
            s_threadsBeforeChroot = ListTasks();
    }

    private static List<(int Tid, string Effective)> ThreadsHoldingCapabilities()
    {
        var holding = new List<(int, string)>();
        foreach (string task in Directory.Exists(TaskFolder) ? Directory.GetDirectories(TaskFolder) : [])
        {
            string? effective;
            try
            {
                effective = File.ReadLines(Path.Combine(task, "status")).FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
            }
            catch (IOException)
            {
                continue; // ended meanwhile
            }
            if (effective is not null && effective[7..].Trim().Trim('0').Length != 0)
                holding.Add((int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture), effective[7..].Trim()));
        }
        return holding;
    }

    private static int[] Threads() =>
        Directory.Exists(TaskFolder) ? ListTasks()
        : s_threadsBeforeChroot ?? throw new ConfinementException("capabilities: no /proc/self/task to find the threads in");

    private static int[] ListTasks() =>
        [.. Directory.GetDirectories(TaskFolder).Select(t => int.Parse(Path.GetFileName(t), CultureInfo.InvariantCulture))];

    private static ConfinementException Failed(string call) =>
        new($"capabilities: {call} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
}
