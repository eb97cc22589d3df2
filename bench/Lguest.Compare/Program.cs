using System.Globalization;

namespace Lguest.Compare;

/// <summary>
/// bench/run.sh's engine: runs the sections asked for, keeps the figures of the others from the previous
/// results.json (each section carries its own date and load), and writes results.md, results.json and ratios.png.
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: Lguest.Compare --root DIR --probe probe.elf --aot LGUEST --jit Lguest.Cli.dll [--runs N] [--sections direct,devices,bed,debian,fs,snapshot,vsock|none] [--no-bed] [--bed-args 'ARGS'] [--fs-args 'ARGS'] [--snapshot-args 'ARGS'] [--cases WORDS,...] [--command TEXT]";

    private static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        Options? options = Options.Parse(args, out string? problem);
        if (options is null)
        {
            Console.Error.WriteLine($"Lguest.Compare: {problem}");
            Console.Error.WriteLine(Usage);
            return 2;
        }

        string bench = Path.Combine(options.Root, "bench");
        string resultsJson = Path.Combine(bench, "results.json");
        Results results = Results.Load(resultsJson);
        if (options.Sections.Count > 0)
        {
            results.Machine = MachineInfo.Capture();
            results.Runs = options.Runs;
        }

        var vmms = new List<Vmm>
        {
            Vmm.Lguest(Vmm.LguestAot, $"NativeAOT `{Path.GetRelativePath(options.Root, options.Aot)}`", [options.Aot]),
            Vmm.Lguest(Vmm.LguestJit, $"`dotnet {Path.GetRelativePath(options.Root, options.Jit)}` (JIT)", ["dotnet", options.Jit]),
            Vmm.Lguest(Vmm.LguestAotUnfiltered, "the NativeAOT lguest with `--seccomp=off` (lguest-aot runs with its default filter on)", [options.Aot, "--seccomp=off"]),
            Vmm.QemuPcMachine(),
            Vmm.QemuMicrovmMachine(),
        };
        results.Vmms = vmms.ToDictionary(v => v.Name, v => v.Description);

        if (options.Sections.Contains("direct"))
        {
            string load = MachineInfo.LoadAverage();
            Log($"direct: {options.Runs} rounds of {string.Join(", ", vmms.Select(v => v.Name))}; load {load}");
            string disk = Path.Combine(Path.GetTempPath(), $"lguest-compare-{Environment.ProcessId}.img");
            using (var image = new FileStream(disk, FileMode.Create))
                image.SetLength(DirectBench.DiskBytes);
            try
            {
                List<Figure> figures = DirectBench.Run(vmms, options.Probe, disk, options.Runs, Log);
                results.Replace("direct", [new SectionResult(DirectBench.Section, Conditions(load, options.Runs), figures)]);
            }
            finally
            {
                File.Delete(disk);
            }
        }

        if (options.Sections.Contains("devices"))
        {
            string load = MachineInfo.LoadAverage();
            Log($"devices: {options.Runs} rounds, device and host in turn; load {load}");
            // The vsock cases are the vsock section's, unless named.
            List<Figure> figures = DeviceBench.Run(options.Runs, Log, options.Cases, options.Cases.Count > 0 ? null : ["vsock"]);
            string conditions = Conditions(load, options.Runs) + (options.Cases.Count > 0 ? $"; only the cases named {string.Join(", ", options.Cases)}" : "");
            List<SectionResult> sections = [.. figures.GroupBy(f => f.Section).Select(g => new SectionResult(g.Key, conditions, [.. g]))];
            if (options.Cases.Count > 0)
                results.Merge("devices", sections); // the cases not rerun keep their figures
            else
                results.Replace("devices", sections);
        }

        // vsock (issue 16): the device against a Unix socket pair with no guest CPU, then (unless --no-bed) one stream
        // each way in the nested bed beside QEMU's vhost-vsock-pci (bed-bench.sh --parts vsock).
        if (options.Sections.Contains("vsock"))
        {
            string load = MachineInfo.LoadAverage();
            Log($"vsock: {options.Runs} rounds, device and socket pair in turn; load {load}");
            List<Figure> figures = DeviceBench.Run(options.Runs, Log, ["vsock"]);
            List<SectionResult> sections = [.. figures.GroupBy(f => f.Section).Select(g => new SectionResult(g.Key, Conditions(load, options.Runs), [.. g]))];
            if (options.Bed && File.Exists(Path.Combine(options.Root, BedBench.Script)))
            {
                load = MachineInfo.LoadAverage();
                string[] arguments = ["--parts", "vsock", .. options.BedArguments];
                BedBench.Outcome outcome = BedBench.Run(options.Root, arguments, Log);
                string conditions = Conditions(load, null) + $"; `{string.Join(' ', new[] { BedBench.Script }.Concat(arguments))}` exited with status {outcome.ExitStatus}";
                sections.AddRange(outcome.Figures.GroupBy(f => f.Section).Select(g => new SectionResult(g.Key, conditions, [.. g])));
            }
            results.Replace("vsock", sections);
        }

        // bed: bed-bench.sh's boot and I/O parts (or what --bed-args asks); debian: its Debian part (issue 20:
        // fio and boot to multi-user.target beside QEMU with aio=threads and aio=io_uring); fs: the shared-folder
        // comparison (issue 17, virtio-fs beside QEMU 9p). Each in a bed of its own and a section of its own, so
        // that any can be rerun without losing the others' figures.
        if (options.Sections.Contains("bed"))
            RunBed(results, options, "bed", options.BedArguments);
        if (options.Sections.Contains("debian"))
            RunBed(results, options, "debian", ["--parts", "debian", .. options.BedArguments]);
        if (options.Sections.Contains("fs"))
            RunBed(results, options, "fs", ["--parts", "fs", .. options.FsArguments]);
        // snapshot: issue 19's restore against a cold boot and at two sizes of RAM, in a bed of its own.
        if (options.Sections.Contains("snapshot"))
            RunSnapshot(results, options);

        results.Save(resultsJson);
        RatioChart.Draw(results, Path.Combine(bench, "ratios.png"));
        File.WriteAllText(Path.Combine(bench, "results.md"), ResultsReport.Render(results, options.Command));
        Log($"wrote bench/results.md, bench/results.json, bench/ratios.png; load {MachineInfo.LoadAverage()}");
        return 0;
    }

    private static void Log(string line) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");

    // Runs bench/bed/bed-bench.sh with arguments and replaces the sections of that source with its figures.
    private static void RunBed(Results results, Options options, string source, IReadOnlyList<string> arguments)
    {
        if (!File.Exists(Path.Combine(options.Root, BedBench.Script)))
        {
            Log($"{source}: {BedBench.Script} is not in this tree; section not run");
            if (!results.Sections.Any(s => s.Source == source))
                results.Replace(source, [new SectionResult(BedBench.SectionWhenAbsent, $"not run: {BedBench.Script} is not in this tree", [])]);
            return;
        }
        string load = MachineInfo.LoadAverage();
        Log($"{source}: {BedBench.Script}; load {load}");
        BedBench.Outcome outcome = BedBench.Run(options.Root, arguments, Log);
        string invocation = string.Join(' ', new[] { BedBench.Script }.Concat(arguments));
        string conditions = Conditions(load, null) + $"; `{invocation}` exited with status {outcome.ExitStatus}"
            + (outcome.Problems.Count > 0 ? $"; {outcome.Problems.Count} malformed BENCH lines left out (first: {outcome.Problems[0]})" : "");
        List<SectionResult> sections = [.. outcome.Figures.GroupBy(f => f.Section).Select(g => new SectionResult(g.Key, conditions, [.. g]))];
        if (sections.Count == 0)
            sections.Add(new SectionResult(BedBench.SectionWhenAbsent, conditions + "; it printed no BENCH line", []));
        results.Replace(source, sections);
    }

    private static void RunSnapshot(Results results, Options options)
    {
        string load = MachineInfo.LoadAverage();
        Log($"snapshot: {SnapshotBench.Script}; load {load}");
        SnapshotBench.Outcome outcome = SnapshotBench.Run(options.Root, options.SnapshotArguments, Log);
        string invocation = string.Join(' ', new[] { SnapshotBench.Script }.Concat(options.SnapshotArguments));
        results.Replace("snapshot", [new SectionResult(SnapshotBench.Section, Conditions(load, null) + $"; `{invocation}` exited with status {outcome.ExitStatus}", outcome.Figures)]);
    }

    private static string Conditions(string loadAtStart, int? rounds) =>
        (rounds is null ? "" : $"{rounds} rounds; ") + $"load average (1, 5, 15 min) {loadAtStart} at the start, {MachineInfo.LoadAverage()} at the end";

    /// <summary>The command line.</summary>
    internal sealed record Options(string Root, string Probe, string Aot, string Jit, int Runs, HashSet<string> Sections, string Command,
        IReadOnlyList<string> BedArguments, IReadOnlyList<string> FsArguments, IReadOnlyList<string> Cases, IReadOnlyList<string> SnapshotArguments, bool Bed = true)
    {
        public static readonly string[] AllSections = ["direct", "devices", "bed", "debian", "fs", "snapshot", "vsock"];

        public static Options? Parse(string[] args, out string? problem)
        {
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            bool noBed = false;
            problem = null;
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i] == "--no-bed")
                {
                    noBed = true;
                    continue;
                }
                if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 == args.Length)
                {
                    problem = $"unexpected argument '{args[i]}'";
                    return null;
                }
                map[args[i][2..]] = args[++i];
            }
            foreach (string required in new[] { "root", "probe", "aot", "jit" })
            {
                if (!map.ContainsKey(required))
                {
                    problem = $"--{required} is missing";
                    return null;
                }
            }
            int runs = 10;
            if (map.TryGetValue("runs", out string? r) && (!int.TryParse(r, CultureInfo.InvariantCulture, out runs) || runs < 1))
            {
                problem = $"--runs '{r}' is not a positive number";
                return null;
            }
            HashSet<string> sections = map.TryGetValue("sections", out string? s)
                ? [.. s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]
                : [.. AllSections];
            // "none": nothing is measured; results.md and ratios.png are written again from results.json (after
            // figures were merged into it from another run).
            if (sections.SetEquals(["none"]))
                sections.Clear();
            if (sections.Except(AllSections).FirstOrDefault() is string unknown)
            {
                problem = $"unknown section '{unknown}' (known: {string.Join(", ", AllSections)})";
                return null;
            }
            if (noBed)
            {
                sections.Remove("bed");
                sections.Remove("debian");
                sections.Remove("fs");
                sections.Remove("snapshot");
            }
            return new Options(Path.GetFullPath(map["root"]), Path.GetFullPath(map["probe"]), Path.GetFullPath(map["aot"]), Path.GetFullPath(map["jit"]),
                runs, sections, map.GetValueOrDefault("command", "bench/run.sh"),
                map.GetValueOrDefault("bed-args", "").Split(' ', StringSplitOptions.RemoveEmptyEntries),
                map.GetValueOrDefault("fs-args", "").Split(' ', StringSplitOptions.RemoveEmptyEntries),
                map.GetValueOrDefault("cases", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                map.GetValueOrDefault("snapshot-args", "").Split(' ', StringSplitOptions.RemoveEmptyEntries), !noBed);
        }
    }
}
