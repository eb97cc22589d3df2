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
    /// Runs <paramref name="command"/> (a /bin/sh command line, run from the repository root) inside L1
    /// with <paramref name="l1Cpus"/> vCPUs. L1's stdin is empty, so an L2 console reads end-of-file.
    /// </summary>
    /// <remarks>
    /// When L1 itself vanishes before the command's end (bed.sh's 125: QEMU exited without a panic message and
    /// without the BED-EXIT marker, as a reset of the emulated machine does), the command runs once more in a fresh
    /// L1, and the test output shows the first run's transcript. L1 is the harness: a stock kernel under TCG's
    /// emulated SVM, where a triple fault of its own was seen once in a CI run (an L2 of four vCPUs on L1's two,
    /// SmpInBedTests). A VMM in L1 cannot reset L1 short of a host kernel bug, so a second vanishing is reported
    /// as it is: the test sees 125 and fails with both transcripts in its output.
    /// </remarks>
    public NestedBedRun Run(string command, TimeSpan? timeout = null, int l1Cpus = 1)
    {
        NestedBedRun run = RunOnce(command, timeout, l1Cpus);
        if (run.ExitStatus != NestedBedRun.BedNeverFinished)
            return run;
        TestContext.Out.WriteLine($"bed: L1 ended without finishing the command; running it once more in a fresh L1. The first run:\n{run}");
        return RunOnce(command, timeout, l1Cpus);
    }

    private NestedBedRun RunOnce(string command, TimeSpan? timeout, int l1Cpus)
    {
        using NestedBedSession session = Start(command, timeout, l1Cpus);
        return session.Finish();
    }

    /// <summary>
    /// Starts <paramref name="command"/> (a /bin/sh command line, run from the repository root) inside L1
    /// and returns at once: the test reads the console as it comes and types into it (an L2 console through
    /// L1's), then calls <see cref="NestedBedSession.Finish"/>. L1 gets <paramref name="l1Cpus"/> vCPUs
    /// (bed.sh --smp; one is the cheapest on a small host, two let two L2 vCPUs really run side by side).
    /// </summary>
    public NestedBedSession Start(string command, TimeSpan? timeout = null, int l1Cpus = 1)
    {
        TimeSpan limit = timeout ?? DefaultTimeout;
        // One stream for bed.sh's messages and L1's console, in the order they happened.
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$0\" \"$@\" 2>&1");
        start.ArgumentList.Add(Path.Combine(GuestsDirectory, "bed.sh"));
        start.ArgumentList.Add("--timeout");
        start.ArgumentList.Add(((int)Math.Ceiling(limit.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add("--smp");
        start.ArgumentList.Add(l1Cpus.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add("--");
        start.ArgumentList.Add(command);

        var clock = Stopwatch.StartNew();
        var process = Process.Start(start)!;
        return new NestedBedSession(process, command, limit, clock);
    }

    /// <summary>
    /// A /bin/sh command line that runs lguest in L1 booting the cloud kernel in the given format with the
    /// guest image and <c>console=ttyS0 quiet</c>, then <paramref name="arguments"/> (launcher options and
    /// kernel arguments, quoted). Prefix <c>exec</c> to make lguest's exit status the bed's (BED-EXIT). The
    /// launcher is <see cref="LauncherBinary.Current"/>, named in the test output.
    /// </summary>
    public static string LguestCommand(GuestKernelFormat kernel, params string[] arguments)
    {
        LauncherBinary launcher = LauncherBinary.Current;
        TestContext.Out.WriteLine($"launcher: {launcher.Description}");
        string image = kernel == GuestKernelFormat.PvhVmlinux ? "$LGUEST_GUEST_VMLINUX" : "$LGUEST_GUEST_VMLINUZ";
        return $"{launcher.ShellCommand} {GuestMemoryMegabytes} \"{image}\" --initrd=\"$LGUEST_GUEST_INITRD\" console=ttyS0 quiet"
            + string.Concat(arguments.Select(argument => " " + Quote(argument)));
    }

    /// <summary>The L2 guest's memory, as l2-qemu.sh gives QEMU's guest: timings compare like with like.</summary>
    public const int GuestMemoryMegabytes = 256;

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
