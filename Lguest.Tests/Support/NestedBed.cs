using System.Diagnostics;
using System.Text;

namespace Lguest.Tests.Support;

/// <summary>
/// Runs commands inside the nested test bed: a TCG QEMU ("L1", <c>-cpu max</c> emulates AMD SVM) whose Linux
/// loads kvm-amd and sees the host's root read-only, so a VMM from the host's build output (QEMU, lguest)
/// can boot a stock kernel as L2. The bed itself is Lguest.Tests/Guests/bed.sh; see the README there.
/// </summary>
/// <remarks>
/// <see cref="OpenOrIgnore"/> ignores the calling test with the reason when the bed cannot run here (no
/// qemu-system-x86_64, no kernels in the cache and none to fetch). Every run is hang-protected by a
/// timeout; no test is time-limited.
/// </remarks>
public sealed class NestedBed
{
    /// <summary>Hang protection for one bed run; scenarios take seconds, a stuck boot should not take the CI.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    private static readonly Lazy<(NestedBed? Bed, string Reason)> Shared = new(Probe);

    private NestedBed(string repositoryRoot, IReadOnlyDictionary<string, string> kernels)
    {
        RepositoryRoot = repositoryRoot;
        Kernels = kernels;
    }

    /// <summary>The clone's root (holds Lguest.NET.sln); commands in L1 start in it.</summary>
    public string RepositoryRoot { get; }

    /// <summary>Lguest.Tests/Guests: the bed's scripts.</summary>
    public string GuestsDirectory => Path.Combine(RepositoryRoot, "Lguest.Tests", "Guests");

    /// <summary>What kernels.sh printed: LGUEST_CACHE, LGUEST_CLOUD_VMLINUZ, LGUEST_CLOUD_VMLINUX, ...</summary>
    public IReadOnlyDictionary<string, string> Kernels { get; }

    /// <summary>The bed, or the calling test ignored with the reason it cannot run here.</summary>
    public static NestedBed OpenOrIgnore()
    {
        var (bed, reason) = Shared.Value;
        if (bed is null)
            Assert.Ignore(reason);
        return bed!;
    }

    /// <summary>
    /// Runs <paramref name="command"/> (a /bin/sh command line, run from the repository root) inside L1.
    /// L1's stdin is empty, so an L2 console reads end-of-file.
    /// </summary>
    public NestedBedRun Run(string command, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? DefaultTimeout;
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(GuestsDirectory, "bed.sh"));
        start.ArgumentList.Add("--timeout");
        start.ArgumentList.Add(((int)Math.Ceiling(limit.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add("--");
        start.ArgumentList.Add(command);

        var transcript = new StringBuilder();
        var clock = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(transcript, e.Data);
        process.ErrorDataReceived += (_, e) => Append(transcript, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // bed.sh stops L1 itself at the limit; this is the backstop should bed.sh itself hang.
        if (!process.WaitForExit(limit + TimeSpan.FromMinutes(1)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        process.WaitForExit(); // drains the asynchronous readers
        clock.Stop();

        string all;
        lock (transcript)
            all = transcript.ToString();
        TestContext.Out.WriteLine($"bed: `{command}` exited {process.ExitCode} after {clock.Elapsed.TotalSeconds:F1} s");
        return new NestedBedRun(CommandPart(all), all, process.ExitCode, clock.Elapsed);
    }

    /// <summary>
    /// Boots the L2 guest image with QEMU on L1's KVM (Lguest.Tests/Guests/l2-qemu.sh) and runs
    /// <paramref name="scenario"/> there (Lguest.Tests/Guests/scenarios/). Extra QEMU arguments add devices.
    /// </summary>
    public NestedBedRun RunQemuScenario(string scenario, params string[] qemuArguments)
    {
        var command = new StringBuilder("Lguest.Tests/Guests/l2-qemu.sh '' '' ");
        command.Append(Quote($"console=ttyS0 quiet lguest.scenario={scenario}"));
        foreach (string argument in qemuArguments)
            command.Append(' ').Append(Quote(argument));
        return Run(command.ToString());
    }

    /// <summary>Quotes one word for /bin/sh.</summary>
    public static string Quote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static void Append(StringBuilder transcript, string? line)
    {
        if (line is null)
            return;
        lock (transcript)
            transcript.Append(line.Replace("\r", "", StringComparison.Ordinal)).Append('\n');
    }

    private static string CommandPart(string transcript)
    {
        const string Start = "BED-COMMAND-START\n";
        int from = transcript.IndexOf(Start, StringComparison.Ordinal);
        if (from < 0)
            return "";
        from += Start.Length;
        int to = transcript.LastIndexOf("BED-EXIT ", StringComparison.Ordinal);
        return to >= from ? transcript[from..to] : transcript[from..];
    }

    private static (NestedBed? Bed, string Reason) Probe()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.OSArchitecture
            != System.Runtime.InteropServices.Architecture.X64)
            return (null, "the nested bed needs an x86-64 Linux host");
        string? root = FindRepositoryRoot();
        if (root is null)
            return (null, $"no Lguest.Tests/Guests/bed.sh above {AppContext.BaseDirectory}");
        if (!OnPath("qemu-system-x86_64"))
            return (null, "no qemu-system-x86_64 (Lguest.Tests/Guests/prepare.sh installs it)");
        if (!OnPath("bash"))
            return (null, "no bash");

        // kernels.sh reuses the cache, else fetches with apt-get download; it fails only when neither works.
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(root, "Lguest.Tests", "Guests", "kernels.sh"));
        using var process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            return (null, $"no kernels in the cache and none fetched: {error.Result.Trim()}");

        var kernels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
                kernels[line[..equals]] = line[(equals + 1)..]; // printf %q leaves plain paths as they are
        }
        return (new NestedBed(root, kernels), "");
    }

    private static string? FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Lguest.Tests", "Guests", "bed.sh")))
                return directory.FullName;
        }
        return null;
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Combine(directory, program)));
}
