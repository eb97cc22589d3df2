using System.Diagnostics;
using System.Text;

namespace Lguest.Tests.Support;

/// <summary>
/// The lguest command in a child process (<see cref="LauncherBinary.Current"/>: the NativeAOT binary when it
/// is current, else the CLI built next to the tests under dotnet), with stdin closed and stdout/stderr
/// captured line by line, so a test can wait for console lines, then stop the guest.
/// </summary>
/// <remarks>
/// The NativeAOT binary starts in milliseconds where <c>dotnet Lguest.Cli.dll</c> takes a fraction of a second
/// here and several seconds inside the nested bed's emulated L1, where the Kvm layer runs on a host without
/// KVM; it is also what users install.
/// </remarks>
internal sealed partial class LguestProcess : IDisposable
{
    /// <summary>A guard against a hung guest, far beyond any expected run: the child is killed and the test fails.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(10);

    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly StringBuilder _stderr = new();
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _lineArrived = new(0);

    private LguestProcess(IEnumerable<string> args, IReadOnlyList<string>? wrapper = null)
    {
        LauncherBinary launcher = LauncherBinary.Current;
        TestContext.Out.WriteLine($"launcher: {launcher.Description}");
        // A wrapper runs the launcher through another program (ip netns exec NS ..., setpriv ...).
        string[] command = [.. wrapper ?? [], launcher.FileName, .. launcher.LeadingArguments, .. args];
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in command.Skip(1))
            start.ArgumentList.Add(argument);
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (_lock)
                _stdout.Add(e.Data.TrimEnd('\r'));
            _lineArrived.Release();
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (_lock)
                _stderr.AppendLine(e.Data);
        };
        _process.Start();
        _process.StandardInput.Close();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static LguestProcess Start(params string[] args) => new(args);

    /// <summary>Starts lguest as the last argument of <paramref name="wrapper"/> (e.g. ip netns exec NS).</summary>
    public static LguestProcess StartWrapped(IReadOnlyList<string> wrapper, params string[] args) => new(args, wrapper);

    /// <summary>Runs lguest to the end under <paramref name="wrapper"/>; returns the exit code.</summary>
    public static (int ExitCode, IReadOnlyList<string> Stdout, string Stderr) RunWrapped(IReadOnlyList<string> wrapper, params string[] args)
    {
        using var lguest = StartWrapped(wrapper, args);
        int code = lguest.WaitForExit();
        return (code, lguest.Stdout, lguest.Stderr);
    }

    /// <summary>Runs to the end; returns the exit code.</summary>
    public static (int ExitCode, IReadOnlyList<string> Stdout, string Stderr) Run(params string[] args)
    {
        using var lguest = Start(args);
        int code = lguest.WaitForExit();
        return (code, lguest.Stdout, lguest.Stderr);
    }

    /// <summary>Whether the launcher has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The launcher's process ID (the NativeAOT binary's, or the dotnet host's running the CLI in it).</summary>
    public int Id => _process.Id;

    public IReadOnlyList<string> Stdout
    {
        get
        {
            lock (_lock)
                return _stdout.ToArray();
        }
    }

    public string Stderr
    {
        get
        {
            lock (_lock)
                return _stderr.ToString();
        }
    }

    public int WaitForExit()
    {
        if (!_process.WaitForExit(HangGuard))
        {
            _process.Kill(entireProcessTree: true);
            Assert.Fail($"lguest did not exit; stdout so far:\n{string.Join('\n', Stdout)}\nstderr:\n{Stderr}");
        }
        _process.WaitForExit(); // drain the output readers
        return _process.ExitCode;
    }

    /// <summary>Waits until the console has printed a line matching <paramref name="predicate"/>, or the process ended.</summary>
    public bool WaitForLine(Func<string, bool> predicate)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < HangGuard)
        {
            if (Stdout.Any(predicate))
                return true;
            if (_process.HasExited)
            {
                _process.WaitForExit();
                return Stdout.Any(predicate);
            }
            _lineArrived.Wait(TimeSpan.FromMilliseconds(500));
        }
        return false;
    }

    /// <summary>Asks lguest to stop the guest as a user's kill would (SIGTERM).</summary>
    public int Terminate()
    {
        if (!_process.HasExited)
            _ = Interop.Kill(_process.Id, 15);
        return WaitForExit();
    }

    /// <summary>Sends lguest <paramref name="signal"/> (SIGUSR1 for <c>--snapshot-to</c>) and returns at once.</summary>
    public void Signal(int signal)
    {
        if (!_process.HasExited)
            _ = Interop.Kill(_process.Id, signal);
    }

    /// <summary>Kills lguest with SIGKILL, as a crash or the OOM killer would: no handler runs. Returns once it is gone.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
            _ = Interop.Kill(_process.Id, 9);
        _ = WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
        _lineArrived.Dispose();
    }

    private static partial class Interop
    {
        [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
        public static partial int Kill(int pid, int signal);
    }
}
