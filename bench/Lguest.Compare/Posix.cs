using System.Runtime.InteropServices;

namespace Lguest.Compare;

/// <summary>
/// The few libc calls the harness needs to start a VMM and account for it: posix_spawnp with redirections,
/// pipe2, read, kill and wait4 (the only way to the child's own rusage once it has exited).
/// </summary>
/// <remarks>
/// Safety: every pointer here is to a stack local, a pinned span, or a block this class allocated and frees
/// in the same call; none outlives the call that made it.
/// </remarks>
internal static unsafe partial class Posix
{
    public const int ORdOnly = 0;
    public const int OWrOnly = 1;
    public const int OCreat = 0x40;
    public const int OTrunc = 0x200;
    public const int OCloExec = 0x80000;
    public const int SigKill = 9;
    public const int SigTerm = 15;
    public const int EIntr = 4;

    /// <summary>glibc's posix_spawn_file_actions_t is 80 bytes; room to spare.</summary>
    private const int FileActionsSize = 256;

    /// <summary>struct rusage, &lt;sys/resource.h&gt;: two timevals, then fourteen longs.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RUsage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRssKiB, IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NvCsw, NivCsw;

        public readonly double UserSecondsTotal => UserSeconds + UserMicroseconds / 1e6;

        public readonly double SystemSecondsTotal => SystemSeconds + SystemMicroseconds / 1e6;
    }

    /// <summary>
    /// Starts <paramref name="argv"/>[0] (searched in PATH) with stdin from /dev/null, stdout to
    /// <paramref name="stdoutFd"/> and stderr to the file <paramref name="stderrPath"/>; returns its pid.
    /// </summary>
    public static int Spawn(IReadOnlyList<string> argv, int stdoutFd, string stderrPath, IReadOnlyDictionary<string, string>? extraEnvironment = null)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
            environment[(string)entry.Key] = (string?)entry.Value ?? "";
        if (extraEnvironment is not null)
        {
            foreach ((string key, string value) in extraEnvironment)
                environment[key] = value;
        }

        var strings = new List<nint>();
        byte* actions = stackalloc byte[FileActionsSize];
        try
        {
            nint* args = (nint*)NativeMemory.AllocZeroed((nuint)(argv.Count + 1), (nuint)sizeof(nint));
            nint* envp = (nint*)NativeMemory.AllocZeroed((nuint)(environment.Count + 1), (nuint)sizeof(nint));
            strings.Add((nint)args);
            strings.Add((nint)envp);
            for (int i = 0; i < argv.Count; i++)
                strings.Add(args[i] = Marshal.StringToCoTaskMemUTF8(argv[i]));
            int e = 0;
            foreach ((string key, string value) in environment)
                strings.Add(envp[e++] = Marshal.StringToCoTaskMemUTF8($"{key}={value}"));

            Check(FileActionsInit(actions), "posix_spawn_file_actions_init");
            try
            {
                Check(FileActionsAddOpen(actions, 0, "/dev/null", ORdOnly, 0), "addopen stdin");
                Check(FileActionsAddDup2(actions, stdoutFd, 1), "adddup2 stdout");
                Check(FileActionsAddOpen(actions, 2, stderrPath, OWrOnly | OCreat | OTrunc, 0x1a4), "addopen stderr");
                int pid;
                Check(SpawnP(&pid, argv[0], actions, null, args, envp), $"posix_spawnp {argv[0]}");
                return pid;
            }
            finally
            {
                _ = FileActionsDestroy(actions);
            }
        }
        finally
        {
            for (int i = 2; i < strings.Count; i++)
                Marshal.FreeCoTaskMem(strings[i]);
            if (strings.Count >= 2)
            {
                NativeMemory.Free((void*)strings[0]);
                NativeMemory.Free((void*)strings[1]);
            }
        }
    }

    /// <summary>A pipe whose ends are close-on-exec in this process (posix_spawn's dup2 clears it on the child's copy).</summary>
    public static (int Read, int Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (Pipe2(fds, OCloExec) != 0)
            throw new InvalidOperationException($"pipe2: errno {Marshal.GetLastPInvokeError()}");
        return (fds[0], fds[1]);
    }

    /// <summary>read(2), retried on EINTR; 0 at end of file.</summary>
    public static int Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            for (; ; )
            {
                nint n = ReadRaw(fd, p, (nuint)buffer.Length);
                if (n >= 0)
                    return (int)n;
                int errno = Marshal.GetLastPInvokeError();
                if (errno != EIntr)
                    throw new InvalidOperationException($"read: errno {errno}");
            }
        }
    }

    /// <summary>Waits for <paramref name="pid"/>; its exit status (128 + signal if a signal ended it) and rusage.</summary>
    public static (int Status, RUsage Usage) Wait(int pid)
    {
        RUsage usage;
        int status;
        for (; ; )
        {
            int rc = Wait4(pid, &status, 0, &usage);
            if (rc == pid)
                break;
            int errno = Marshal.GetLastPInvokeError();
            if (rc < 0 && errno != EIntr)
                throw new InvalidOperationException($"wait4 {pid}: errno {errno}");
        }
        int code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
        return (code, usage);
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0)
            throw new InvalidOperationException($"{what}: error {rc}");
    }

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    private static partial int FileActionsInit(byte* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    private static partial int FileActionsDestroy(byte* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    private static partial int FileActionsAddDup2(byte* actions, int fd, int newFd);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FileActionsAddOpen(byte* actions, int fd, string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "posix_spawnp", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SpawnP(int* pid, string file, byte* actions, void* attributes, nint* argv, nint* envp);

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static partial int Pipe2(int* fds, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadRaw(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "wait4", SetLastError = true)]
    private static partial int Wait4(int pid, int* status, int options, RUsage* usage);
}
