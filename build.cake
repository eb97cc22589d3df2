// Lguest.NET build script. `dotnet tool restore` once, then `dotnet cake --target=<Target>`.
//   Build    compile everything (warnings are errors)
//   Test     the three test layers: unit, Kvm (this host's /dev/kvm, or the nested bed's where this host
//            has none that runs it), Linux (the nested bed); writes artifacts/test-results/*.trx and the
//            summary line `N passed, N failed[, N skipped]`
//   Pack     NuGet packages (and .snupkg symbols) for Lguest.Core and Lguest.Devices, and the `lguest` dotnet tool,
//            in artifacts/packages (the samples' local feed); version 0.1.0-dev.<commits>.<UTC time>, or
//            --package-version=X.Y.Z for a release; --repository-url=URL (default: git's origin when it is an http(s) URL)
//   Samples  builds samples/ against those packages only (Test depends on it; the Linux layer runs them)
//   Publish  the NativeAOT `lguest` binary in artifacts/lguest/
//   LauncherBinary  the same, only when a launcher source is newer than it (Test and Demo depend on it)
//   Guests   install the test machines' apt packages, fetch kernels, build guest images (cached)
//   Demo     boot the demo guest to a shell
//   Bench    lguest beside QEMU, the devices beside the host: bench/run.sh writes bench/results.md and
//            bench/ratios.png (--bench-runs=N, --bench-sections=direct,devices,bed, --no-bed,
//            --bed-args='--rounds 10' passed to bench/bed/bed-bench.sh);
//            --bench-filter='*Vring*' runs the BenchmarkDotNet micro-benchmarks (bench/Lguest.Benchmarks) instead
//   Fuzz     coverage-guided fuzzing (fuzz/run.sh): --fuzz-target=NAME|all, --fuzz-seconds=N (default 600)
//   PublicApi  add the public symbols the build reports as undeclared (RS0016) to PublicAPI.Unshipped.txt
// Options: --configuration=Release|Debug, --layers=unit,kvm,linux,
//          --kvm-layer=auto|host|bed (where the Kvm layer runs; auto: this host when its /dev/kvm boots the
//          probe guest, else inside the nested bed's L1)
using System.Xml.Linq;

var target = Argument("target", "Test");
var configuration = Argument("configuration", "Release");
var layers = Argument("layers", "unit,kvm,linux").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
var kvmLayer = Argument("kvm-layer", "auto");
// What Pack stamps on the packages: a release version given, or one that changes with every pack (the commit count
// and the UTC time), so a repack never collides with a copy in NuGet's cache.
var packageVersion = Argument("package-version", "");
var repositoryUrl = Argument("repository-url", "");
if (kvmLayer is not ("auto" or "host" or "bed"))
    throw new CakeException($"--kvm-layer={kvmLayer}: expected auto, host or bed");

var solution = File("./Lguest.NET.sln");
var artifacts = Directory("./artifacts");
var testResults = artifacts + Directory("test-results");
var guests = Directory("./Lguest.Tests/Guests");
var launcherBinary = artifacts + Directory("lguest") + File("lguest");

// Each layer is a category filter over the one test project.
var layerFilters = new Dictionary<string, string>
{
    ["unit"] = "TestCategory!=Kvm&TestCategory!=Linux",
    ["kvm"] = "TestCategory=Kvm",
    ["linux"] = "TestCategory=Linux",
};

Task("Clean").Does(() => CleanDirectory(artifacts));

Task("Restore").Does(() => DotNetRestore(solution));

Task("Build")
    .IsDependentOn("Restore")
    .Does(() => DotNetBuild(solution, new DotNetBuildSettings { Configuration = configuration, NoRestore = true }));

Task("Guests")
    .Description("apt packages, kernels and guest images the Kvm and Linux layers need (cached outside the clone)")
    .Does(() =>
{
    // The probe into the cache folder the tests look in (build.sh --cached), so a Kvm layer run inside the
    // nested bed finds it built rather than compiling it under emulation.
    foreach (var (script, arguments) in new[] { (guests + File("prepare.sh"), ""), (guests + File("Probe/build.sh"), " --cached") })
    {
        if (!FileExists(script))
        {
            Information($"{script}: not present yet, skipped");
            continue;
        }
        int exit = StartProcess("bash", new ProcessSettings { Arguments = script.Path.FullPath + arguments });
        if (exit != 0)
            throw new CakeException($"{script} failed with exit code {exit}");
    }
});

Task("Test")
    .IsDependentOn("Build")
    .IsDependentOn("Samples")
    .IsDependentOn("Guests")
    .IsDependentOn("LauncherBinary")
    .Does(() =>
{
    CleanDirectory(testResults);
    var failedLayers = new List<string>();
    var layerLines = new List<string>();
    BedLayer inBackground = null;
    void FinishInBackground()
    {
        if (inBackground is null)
            return;
        if (!FinishLayerInBed(inBackground))
            failedLayers.Add(inBackground.Layer);
        layerLines.Add($"layer {inBackground.Layer} (in the nested bed's L1): {TestSummary.Read(testResults.Path.FullPath, $"{inBackground.Layer}.trx").Line} in {inBackground.Clock.Elapsed.TotalMinutes:F1} min");
        inBackground = null;
    }
    foreach (var layer in layers)
    {
        if (!layerFilters.ContainsKey(layer))
            throw new CakeException($"unknown test layer '{layer}' (known: {string.Join(", ", layerFilters.Keys)})");
    }
    var hostLayers = layers.ToList();
    if (layers.Contains("kvm"))
    {
        var (inBed, why) = ChooseKvmLayerPlace();
        Information(inBed
            ? $"kvm layer: inside the nested bed's L1 (kvm-amd on QEMU's emulated SVM), because {why}"
            : $"kvm layer: on this host's /dev/kvm, because {why}");
        if (inBed)
        {
            // In the bed the Kvm layer is the longest (~25 min of one TCG thread): it starts first and runs in
            // the background beside the other layers (the unit layer's threads, the Linux layer's beds), so a
            // 2-CPU host works on both at once and the whole run takes about as long as this layer.
            Information("=== test layer: kvm ===");
            hostLayers.Remove("kvm");
            string log = hostLayers.Count > 0 ? MakeAbsolute(testResults + File("kvm-bed.log")).FullPath : null;
            inBackground = StartLayerInBed("kvm", layerFilters["kvm"], log);
            if (log is null)
                FinishInBackground();
            else
                Information($"kvm layer: running in the background beside the {string.Join(" and ", hostLayers)} layer(s); its console goes to {log}");
        }
    }
    try
    {
        foreach (var layer in hostLayers)
        {
            string filter = layerFilters[layer];
            Information($"=== test layer: {layer} ===");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            string place = layer == "linux" ? "nested bed" : "host";
            try
            {
                DotNetTest("./Lguest.Tests/Lguest.Tests.csproj", new DotNetTestSettings
                {
                    Configuration = configuration,
                    NoBuild = true,
                    Filter = filter,
                    Loggers = { $"trx;LogFileName={layer}.trx", "console;verbosity=normal" },
                    ResultsDirectory = testResults,
                });
                // The benchmark harness's tests (bench/): unit tests, beside the unit layer.
                if (layer == "unit")
                {
                    DotNetTest("./bench/Lguest.Compare.Tests/Lguest.Compare.Tests.csproj", new DotNetTestSettings
                    {
                        Configuration = configuration,
                        NoBuild = true,
                        Loggers = { "trx;LogFileName=unit-bench.trx", "console;verbosity=normal" },
                        ResultsDirectory = testResults,
                    });
                }
            }
            catch (Exception e)
            {
                // Keep going: every layer runs and counts, and the summary decides.
                Warning($"layer {layer}: {e.Message}");
                failedLayers.Add(layer);
            }
            layerLines.Add($"layer {layer} ({place}): {TestSummary.Read(testResults.Path.FullPath, $"{layer}*.trx").Line} in {clock.Elapsed.TotalMinutes:F1} min");
        }
    }
    finally
    {
        // Whatever happened on the host, the bed's layer is waited for and counted (and no L1 is left running).
        FinishInBackground();
    }

    foreach (var line in layerLines)
        Information(line);
    var summary = TestSummary.Read(testResults.Path.FullPath);
    foreach (var skipped in summary.Skipped)
        Information($"skipped: {skipped}");
    foreach (var failed in summary.Failed)
        Error($"failed: {failed}");
    System.IO.File.WriteAllText((testResults + File("summary.txt")).Path.FullPath, summary.Line + "\n");
    Information(summary.Line);
    if (summary.Passed + summary.FailedCount == 0)
        throw new CakeException("no test ran");
    if (summary.FailedCount > 0 || failedLayers.Count > 0)
        throw new CakeException($"tests failed (layers: {string.Join(", ", failedLayers)})");
});

Task("Pack")
    .IsDependentOn("Build")
    .Does(() =>
{
    string version = PackageVersion();
    // git's origin only when it is a URL a package user can open: a clone of a local folder (CI's) names a path.
    string origin = GitOutput("remote get-url origin");
    string repository = repositoryUrl != "" ? repositoryUrl
        : Uri.TryCreate(origin, UriKind.Absolute, out Uri originUri) && originUri.Scheme is "https" or "http" ? origin : null;
    var packages = artifacts + Directory("packages");
    CleanDirectory(packages);
    var properties = new DotNetMSBuildSettings().WithProperty("PackageVersion", version);
    if (!string.IsNullOrEmpty(repository))
        properties = properties.WithProperty("RepositoryUrl", repository).WithProperty("PackageProjectUrl", repository);
    else
        Warning($"no --repository-url and no http(s) git origin ({origin ?? "none"}): the packages name no repository, only the commit");
    foreach (var project in new[] { "Lguest.Core", "Lguest.Devices", "Lguest.Cli" })
    {
        DotNetPack($"./{project}/{project}.csproj", new DotNetPackSettings
        {
            Configuration = configuration,
            NoBuild = true,
            OutputDirectory = packages,
            MSBuildSettings = properties,
        });
    }
    System.IO.File.WriteAllText((packages + File("version.txt")).Path.FullPath, version + "\n");
    foreach (var package in GetFiles($"{packages}/*.*nupkg").OrderBy(f => f.GetFilename().FullPath))
        Information($"packed {package.GetFilename()}");
});

Task("Samples")
    .Description("samples/ built against the packed packages (artifacts/packages, samples/NuGet.config) only")
    .IsDependentOn("Pack")
    .Does(() =>
{
    string version = System.IO.File.ReadAllText((artifacts + Directory("packages") + File("version.txt")).Path.FullPath).Trim();
    foreach (var project in new[] { "samples/EmbedVm/EmbedVm.csproj", "samples/CustomDevice/Host/CustomDeviceHost.csproj" })
    {
        DotNetBuild(project, new DotNetBuildSettings
        {
            Configuration = configuration,
            MSBuildSettings = new DotNetMSBuildSettings().WithProperty("LguestPackageVersion", version),
        });
    }
    Information($"samples built on Lguest {version}");
});

Task("Publish")
    .Description("NativeAOT lguest binary")
    .Does(() => PublishLauncher());

Task("LauncherBinary")
    .Description("the NativeAOT lguest binary, published only when a launcher source is newer than it")
    // The Kvm and Linux layers and the Demo run it (the tests start lguest as the NativeAOT binary when it is
    // current: milliseconds to start, where `dotnet Lguest.Cli.dll` takes seconds in the bed's emulated L1).
    .WithCriteria(() => target != "Test" || layers.Contains("linux") || layers.Contains("kvm"))
    .Does(() =>
{
    var binary = new System.IO.FileInfo(launcherBinary.Path.FullPath);
    var newest = NewestLauncherSource();
    if (binary.Exists && (newest is null || newest.LastWriteTimeUtc <= binary.LastWriteTimeUtc))
    {
        Information($"NativeAOT binary up to date: {binary.FullName}");
        return;
    }
    Information(binary.Exists
        ? $"NativeAOT binary older than {System.IO.Path.GetRelativePath(MakeAbsolute(Directory(".")).FullPath, newest.FullName)}: publishing"
        : "no NativeAOT binary yet: publishing");
    PublishLauncher();
});

Task("Demo")
    .Description("boot the demo guest to a shell")
    .IsDependentOn("LauncherBinary")
    .Does(() =>
{
    var demo = guests + File("demo.sh");
    if (!FileExists(demo))
        throw new CakeException("the demo guest is not available yet: the KVM backend (issue 4) and the nested bed (issue 5) are still being built");
    int exit = StartProcess("bash", new ProcessSettings { Arguments = demo.Path.FullPath });
    if (exit != 0)
        throw new CakeException($"demo exited with {exit}");
});

Task("Bench")
    .Description("lguest beside QEMU and the devices beside the host (bench/run.sh -> bench/results.md, bench/ratios.png); --bench-filter=PATTERN runs the BenchmarkDotNet micro-benchmarks instead")
    .IsDependentOn("LauncherBinary")
    .Does(() =>
{
    if (HasArgument("bench-filter"))
    {
        DotNetRun("./bench/Lguest.Benchmarks/Lguest.Benchmarks.csproj", new ProcessArgumentBuilder().Append("--filter").AppendQuoted(Argument<string>("bench-filter")),
            new DotNetRunSettings { Configuration = "Release" });
        return;
    }
    var arguments = new ProcessArgumentBuilder().Append("bench/run.sh");
    if (HasArgument("bench-runs"))
        arguments.Append("--runs").Append(Argument<int>("bench-runs").ToString());
    if (HasArgument("bench-sections"))
        arguments.Append("--sections").AppendQuoted(Argument<string>("bench-sections"));
    if (HasArgument("no-bed"))
        arguments.Append("--no-bed");
    if (HasArgument("bed-args"))
        arguments.Append("--bed-args").AppendQuoted(Argument<string>("bed-args"));
    int exit = StartProcess("bash", new ProcessSettings
    {
        Arguments = arguments,
        // LauncherBinary above has just published the NativeAOT binary if it was stale.
        EnvironmentVariables = new Dictionary<string, string> { ["LGUEST_BENCH_PUBLISHED"] = "1" },
    });
    if (exit != 0)
        throw new CakeException($"bench/run.sh failed with exit code {exit}");
});

Task("Fuzz")
    .Description("libFuzzer + SharpFuzz on one target or all (fuzz/README.md); the corpus is minimized into fuzz/corpus")
    .Does(() =>
{
    var fuzzTarget = Argument("fuzz-target", "all");
    var seconds = Argument("fuzz-seconds", 600);
    int exit = StartProcess("bash", new ProcessSettings { Arguments = new ProcessArgumentBuilder().Append("fuzz/run.sh").Append(fuzzTarget).Append(seconds.ToString()) });
    if (exit != 0)
        throw new CakeException($"fuzz/run.sh {fuzzTarget} {seconds} failed with exit code {exit} (crashes are in artifacts/fuzz/crashes)");
});

Task("PublicApi")
    .Description("brings PublicAPI.*.txt up to the code: adds what the build reports as undeclared (RS0016) to Unshipped, drops what it reports as gone (RS0017)")
    .Does(() =>
{
    // What the analyzer's code fixes do, without an IDE: the symbol's line, as the diagnostic prints it.
    var undeclared = new System.Text.RegularExpressions.Regex("(?:error|warning) RS0016: Symbol '(.*)' is not part of the declared public API");
    var gone = new System.Text.RegularExpressions.Regex("(?:error|warning) RS0017: Symbol '(.*)' is part of the declared API, but is either not public or could not be found");
    foreach (var project in new[] { "Lguest.Core", "Lguest.Devices" })
    {
        IEnumerable<string> output;
        StartProcess("dotnet", new ProcessSettings
        {
            Arguments = $"build ./{project}/{project}.csproj -c {configuration} -p:TreatWarningsAsErrors=false -nologo",
            RedirectStandardOutput = true,
        }, out output);
        var lines = output.ToList();
        var added = lines.Select(line => undeclared.Match(line)).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct().ToList();
        var removed = lines.Select(line => gone.Match(line)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToHashSet();
        foreach (var name in new[] { "Shipped", "Unshipped" })
        {
            var file = $"./{project}/PublicAPI.{name}.txt";
            var text = System.IO.File.ReadAllLines(file).ToList();
            var body = text.Skip(1).Where(line => !removed.Contains(line)).Concat(name == "Unshipped" ? added : new List<string>())
                .Distinct().OrderBy(line => line, StringComparer.Ordinal);
            System.IO.File.WriteAllLines(file, new[] { text.FirstOrDefault() ?? "#nullable enable" }.Concat(body));
        }
        Information($"{project}: {added.Count} symbol(s) added to PublicAPI.Unshipped.txt, {removed.Count} removed");
    }
});

Task("Default").IsDependentOn("Test");

RunTarget(target);

// The version Pack stamps: --package-version, else VersionPrefix (Directory.Build.props)-dev.<commits>.<UTC time>.
string PackageVersion()
{
    if (packageVersion != "")
        return packageVersion;
    string prefix = XDocument.Load("Directory.Build.props").Descendants("VersionPrefix").First().Value;
    string commits = GitOutput("rev-list --count HEAD");
    return $"{prefix}-dev.{(string.IsNullOrEmpty(commits) ? "0" : commits)}.{DateTime.UtcNow:yyyyMMddHHmmss}";
}

// One line of git's output, or null when git fails (no repository, no such remote).
string GitOutput(string arguments)
{
    IEnumerable<string> output;
    int exit = StartProcess("git", new ProcessSettings { Arguments = arguments, RedirectStandardOutput = true, RedirectStandardError = true }, out output);
    return exit == 0 ? output.FirstOrDefault()?.Trim() : null;
}

// Where the Kvm layer runs: (true, why) for the nested bed, (false, why) for this host. Under auto this host
// when its /dev/kvm boots the probe guest (the layer's smallest guest) through lguest, else the bed.
(bool InBed, string Why) ChooseKvmLayerPlace()
{
    if (kvmLayer == "host" && !System.IO.File.Exists("/dev/kvm"))
        Warning("--kvm-layer=host on a host without /dev/kvm: every Kvm test will be skipped (auto would run them in the bed)");
    if (kvmLayer != "auto")
        return (kvmLayer == "bed", $"--kvm-layer={kvmLayer}");
    if (!System.IO.File.Exists("/dev/kvm"))
        return (true, "this host has no /dev/kvm");
    string module = new[] { "kvm_pvm", "kvm_intel", "kvm_amd" }.FirstOrDefault(m => System.IO.Directory.Exists($"/sys/module/{m}")) ?? "an unknown KVM module";
    string probe = LauncherProbe(out string launcher);
    if (probe is null)
        return (false, $"this host's /dev/kvm ({module}) booted the probe guest through {launcher}");
    return (true, $"this host's /dev/kvm ({module}) does not run the probe guest: {probe}");
}

// Boots the probe guest (probe.only=uart) once with lguest on this host's /dev/kvm: null when it ran to its
// end, else what went wrong in one line. The process is stopped after 5 minutes (a hung /dev/kvm).
string LauncherProbe(out string launcher)
{
    string cache = EnvironmentVariable("LGUEST_CACHE") is { Length: > 0 } c ? c : System.IO.Path.Combine(EnvironmentVariable("HOME") ?? "/root", ".cache", "lguest");
    var build = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
    build.ArgumentList.Add(MakeAbsolute(guests + File("Probe/build.sh")).FullPath);
    build.ArgumentList.Add("--cached");
    var (built, elfOutput, buildError) = RunCaptured(build, TimeSpan.FromMinutes(5));
    string elf = elfOutput.Trim().Split('\n').LastOrDefault() ?? "";
    launcher = "lguest";
    if (built != 0 || !System.IO.File.Exists(elf))
        return $"the probe guest did not build ({buildError.Trim()})";

    string aot = MakeAbsolute(launcherBinary).FullPath;
    var start = System.IO.File.Exists(aot)
        ? new System.Diagnostics.ProcessStartInfo(aot)
        : new System.Diagnostics.ProcessStartInfo("dotnet") { ArgumentList = { MakeAbsolute(File($"./Lguest.Tests/bin/{configuration}/net10.0/Lguest.Cli.dll")).FullPath } };
    launcher = System.IO.File.Exists(aot) ? aot : "dotnet Lguest.Cli.dll";
    start.RedirectStandardOutput = true;
    start.RedirectStandardError = true;
    start.RedirectStandardInput = true;
    foreach (string argument in new[] { "64", elf, "probe.only=uart" })
        start.ArgumentList.Add(argument);
    var (exit, stdout, stderr) = RunCaptured(start, TimeSpan.FromMinutes(5));
    if (exit == 0 && stdout.Contains("PROBE done 1/1"))
        return null;
    string reason = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim();
    return exit == -1 ? "lguest did not finish within 5 minutes"
        : reason is { Length: > 0 } ? reason
        : $"lguest exited {exit} without the probe's last line";
}

(int Exit, string Stdout, string Stderr) RunCaptured(System.Diagnostics.ProcessStartInfo start, TimeSpan patience)
{
    start.UseShellExecute = false;
    using var process = System.Diagnostics.Process.Start(start);
    if (start.RedirectStandardInput)
        process.StandardInput.Close();
    var stdout = process.StandardOutput.ReadToEndAsync();
    var stderr = process.StandardError.ReadToEndAsync();
    if (!process.WaitForExit(patience))
    {
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
        return (-1, stdout.Result, stderr.Result);
    }
    process.WaitForExit();
    return (process.ExitCode, stdout.Result, stderr.Result);
}

// One test layer running inside one bed L1 (Lguest.Tests/Guests/test-layer-l1.sh): the test assembly this build
// wrote, over the bed's 9p share of the host's root, with its TRX written straight into the results folder
// (bed.sh --share). With a log file it runs in the background (its console goes there) while the next layers
// run; without, it streams to this output and Finish follows at once.
sealed class BedLayer
{
    public string Layer { get; init; }
    public string Log { get; init; }
    public System.Diagnostics.Process Process { get; init; }
    public System.Diagnostics.Stopwatch Clock { get; } = System.Diagnostics.Stopwatch.StartNew();
}

BedLayer StartLayerInBed(string layer, string filter, string log)
{
    string Quote(string word) => "'" + word.Replace("'", "'\\''") + "'";
    string assembly = MakeAbsolute(File($"./Lguest.Tests/bin/{configuration}/net10.0/Lguest.Tests.dll")).FullPath;
    string results = MakeAbsolute(testResults).FullPath;
    string command = string.Join(' ', new[] { MakeAbsolute(guests + File("test-layer-l1.sh")).FullPath, assembly, filter, results, $"{layer}.trx" }.Select(Quote));
    // L1's console reads end-of-file: nothing typed here reaches it, and a background run leaves the terminal alone.
    var start = new System.Diagnostics.ProcessStartInfo("bash") { UseShellExecute = false };
    start.ArgumentList.Add("-c");
    start.ArgumentList.Add(log is null ? "exec \"$0\" \"$@\" < /dev/null" : "exec \"$0\" \"$@\" < /dev/null > \"$LGUEST_BED_LAYER_LOG\" 2>&1");
    start.ArgumentList.Add(MakeAbsolute(guests + File("bed.sh")).FullPath);
    // Hang protection for the whole layer, not a time limit on a test.
    foreach (string argument in new[] { "--timeout", "5400", "--share", results, "--", command })
        start.ArgumentList.Add(argument);
    if (log is not null)
        start.Environment["LGUEST_BED_LAYER_LOG"] = log;
    return new BedLayer { Layer = layer, Log = log, Process = System.Diagnostics.Process.Start(start) };
}

// Waits for a layer started by StartLayerInBed: false when it failed or the bed did not run it.
bool FinishLayerInBed(BedLayer run)
{
    run.Process.WaitForExit();
    int exit = run.Process.ExitCode;
    Information($"layer {run.Layer} in the bed: exit {exit} after {run.Clock.Elapsed.TotalMinutes:F1} min" + (run.Log is null ? "" : $"; its console: {run.Log}"));
    bool ran = FileExists(testResults + File($"{run.Layer}.trx"));
    if (run.Log is not null && (exit != 0 || !ran) && System.IO.File.Exists(run.Log))
    {
        foreach (string line in System.IO.File.ReadLines(run.Log).TakeLast(40))
            Information("  {0} | {1}", run.Layer, line);
    }
    if (!ran)
    {
        Error($"layer {run.Layer}: no {run.Layer}.trx came back from the bed (bed.sh exit {exit}: 124 hang protection, 125 the bed did not run)");
        return false;
    }
    if (exit != 0)
        Warning($"layer {run.Layer}: dotnet test in the bed exited {exit}");
    return exit == 0;
}

void PublishLauncher()
{
    DotNetPublish("./Lguest.Cli/Lguest.Cli.csproj", new DotNetPublishSettings
    {
        Configuration = "Release",
        Runtime = "linux-x64",
        OutputDirectory = artifacts + Directory("lguest"),
    });
    // The command is `lguest`; the assembly keeps its project name so `dotnet Lguest.Cli.dll` works too.
    CopyFile(artifacts + Directory("lguest") + File("Lguest.Cli"), launcherBinary);
    // Stamped now: a publish that found nothing to relink leaves an old Lguest.Cli, which would look stale.
    System.IO.File.SetLastWriteTimeUtc(launcherBinary.Path.FullPath, DateTime.UtcNow);
    Information($"NativeAOT binary: {MakeAbsolute(launcherBinary)}");
}

// The newest file the NativeAOT binary is built from; Lguest.Tests/Support/LauncherBinary.cs applies the
// same rule to decide whether tests may run the binary or must fall back to `dotnet Lguest.Cli.dll`.
System.IO.FileInfo NewestLauncherSource()
{
    var root = MakeAbsolute(Directory(".")).FullPath;
    var extensions = new HashSet<string> { ".cs", ".csproj", ".props", ".targets", ".json" };
    return new[] { "Lguest.Core", "Lguest.Devices", "Lguest.Cli" }
        .Select(folder => System.IO.Path.Combine(root, folder))
        .Where(System.IO.Directory.Exists)
        .SelectMany(folder => System.IO.Directory.EnumerateFiles(folder, "*", System.IO.SearchOption.AllDirectories))
        .Where(file => extensions.Contains(System.IO.Path.GetExtension(file)))
        .Where(file => System.IO.Path.GetRelativePath(root, file).Split('/') is var parts && !(parts.Length > 2 && parts[1] is "bin" or "obj"))
        .Concat(new[] { "Directory.Build.props", "Directory.Packages.props", "global.json" }
            .Select(name => System.IO.Path.Combine(root, name))
            .Where(System.IO.File.Exists))
        .Select(file => new System.IO.FileInfo(file))
        .OrderByDescending(file => file.LastWriteTimeUtc)
        .FirstOrDefault();
}

// Counts tests from the TRX files the layers wrote: the summary line comes from real results only.
sealed class TestSummary
{
    public int Passed { get; private set; }
    public int FailedCount => Failed.Count;
    public List<string> Failed { get; } = new();
    public List<string> Skipped { get; } = new();

    public string Line => Skipped.Count > 0
        ? $"{Passed} passed, {FailedCount} failed, {Skipped.Count} skipped"
        : $"{Passed} passed, {FailedCount} failed";

    public static TestSummary Read(string directory, string pattern = "*.trx")
    {
        var summary = new TestSummary();
        if (!System.IO.Directory.Exists(directory))
            return summary;
        foreach (var trx in System.IO.Directory.GetFiles(directory, pattern))
        {
            var doc = XDocument.Load(trx);
            XNamespace ns = doc.Root.Name.Namespace;
            foreach (var result in doc.Descendants(ns + "UnitTestResult"))
            {
                string name = (string)result.Attribute("testName");
                string outcome = (string)result.Attribute("outcome");
                string message = result.Descendants(ns + "Message").FirstOrDefault()?.Value?.Trim() ?? "";
                switch (outcome)
                {
                    case "Passed": summary.Passed++; break;
                    case "NotExecuted": summary.Skipped.Add($"{name}: {FirstLine(message)}"); break;
                    default: summary.Failed.Add($"{name}: {FirstLine(message)}"); break;
                }
            }
        }
        return summary;
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();
}
