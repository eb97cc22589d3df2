using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Lguest.Cli.Confinement;

/// <summary>
/// The outer half of <c>--jail</c>: new mount, IPC and PID namespaces for a second lguest process, the same
/// command line run again as the first process of the new PID namespace, this one waiting for it.
/// </summary>
/// <remarks>
/// unshare acts on the calling thread (a .NET process is never single-threaded, so the namespaces cannot be the
/// whole process's), and a PID namespace holds only the caller's children: so this thread unshares, then starts
/// the child (Process.Start forks on the calling thread, which hands the child its namespaces), as
/// <c>unshare --fork --pid --mount --ipc</c> does. The parent stays, unconfined but idle: it passes on the
/// signals a user or a supervisor sends it (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 for --snapshot-to) and
/// returns the child's exit status, so scripts see one lguest.
/// </remarks>
internal static class JailParent
{
    /// <summary>The environment variable that tells the child it is the jailed one (checked with its PID being 1).</summary>
    public const string InsideMarker = "LGUEST_JAILED";

    private static readonly int[] PassedOnSignals = [1, 2, 3, 10, 12, 15]; // SIGHUP, SIGINT, SIGQUIT, SIGUSR1 and SIGUSR2 (--snapshot-to), SIGTERM

    /// <summary>Runs this command line again inside new namespaces; returns its exit code, or 1 after one line.</summary>
    public static int Run(TextWriter error)
    {
        int childId = 0;
        // Signal handling and the console are set up first: both start threads of the runtime's, and a thread that
        // has unshared its PID namespace can no longer create threads (clone's CLONE_THREAD is refused, EINVAL).
        var registrations = PassedOnSignals.Select(signal => PosixSignalRegistration.Create((PosixSignal)signal, context =>
        {
            context.Cancel = true;
            if (Volatile.Read(ref childId) is > 0 and int id)
                JailSystemCalls.Kill(id, signal);
        })).ToList();
        error.Flush();
        try
        {
            string? failure = null;
            Process? child = null;
            // A thread of its own unshares and forks, then ends: the namespaces stay with it and the child.
            var spawner = new Thread(() => child = Spawn(out failure)) { Name = "jail spawner" };
            spawner.Start();
            spawner.Join();
            if (child is null)
            {
                error.WriteLine($"lguest: --jail: {failure}");
                return (int)ExitCode.Failure;
            }
            using (child)
            {
                Volatile.Write(ref childId, child.Id);
                child.WaitForExit();
                return child.ExitCode; // 128 + the signal when one ended it, as a shell reports it
            }
        }
        finally
        {
            registrations.ForEach(r => r.Dispose());
        }
    }

    private static Process? Spawn(out string? failure)
    {
        failure = null;
        if (JailSystemCalls.Unshare(JailSystemCalls.CloneNewNs | JailSystemCalls.CloneNewIpc | JailSystemCalls.CloneNewPid) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string hint = errno == 1 ? " (new namespaces need CAP_SYS_ADMIN: run lguest --jail as root)" : "";
            failure = $"unshare(mount, IPC, PID namespaces) failed: {Marshal.GetPInvokeErrorMessage(errno)}{hint}";
            return null;
        }
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "/proc/self/exe") { UseShellExecute = false };
        foreach (string argument in OwnArguments().Skip(1))
            start.ArgumentList.Add(argument);
        start.Environment[InsideMarker] = "1";
        try
        {
            return Process.Start(start) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            failure = $"cannot start the jailed lguest: {e.Message}";
            return null;
        }
    }

    /// <summary>
    /// This process's argv exactly as started (/proc/self/cmdline): the NativeAOT lguest's own, or the dotnet
    /// host's with its options and the assembly's path for a JIT run.
    /// </summary>
    private static string[] OwnArguments()
    {
        byte[] raw = File.ReadAllBytes("/proc/self/cmdline");
        string all = System.Text.Encoding.UTF8.GetString(raw);
        return all.TrimEnd('\0').Split('\0');
    }
}
