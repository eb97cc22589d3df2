using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Lguest.Compare;

/// <summary>
/// Issue 19's figures: runs bench/bed/snapshot-bench.sh (one L1, the NativeAOT launcher) and turns its BED-SNAP lines
/// into a section: restore beside a cold boot of the same 256 MiB guest, both to a typed command's output and paired
/// by round (goal: at most 0.1); restore of a 2 GiB guest beside a 256 MiB one (goal: within 1.2×); the launcher's own
/// part of a restore; the snapshots' write time and size. Times inside L1 are emulated: only the ratios count.
/// </summary>
internal static partial class SnapshotBench
{
    public const string Script = "bench/bed/snapshot-bench.sh";

    public const string Section = "Snapshot and restore in the nested bed (issue 19)";

    private const string Restore = "restore";
    private const string Cold = "cold boot";
    private const string Big = "2 GiB";
    private const string Small = "256 MiB";

    [GeneratedRegex(@"^BED-SNAP-ROUND (\d+) (cold|restore)-(\d+) ([0-9.]+)(?: ([0-9.]+|nan))?$")]
    private static partial Regex RoundLine();

    [GeneratedRegex(@"^BED-SNAP-TAKEN (\d+) (\d+) (\d+) .*snapshot ([0-9.]+) ms")]
    private static partial Regex TakenLine();

    /// <summary>The figures, and the script's exit status.</summary>
    public sealed record Outcome(List<Figure> Figures, int ExitStatus);

    /// <summary>Runs the script (stderr to ours) and parses what it printed.</summary>
    public static Outcome Run(string root, IReadOnlyList<string> arguments, Action<string> log)
    {
        var start = new ProcessStartInfo("bash") { WorkingDirectory = root, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(root, Script));
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using Process process = Process.Start(start)!;
        var lines = new List<string>();
        for (string? line; (line = process.StandardOutput.ReadLine()) is not null;)
        {
            lines.Add(line);
            log("snapshot: " + line);
        }
        process.WaitForExit();
        return new Outcome(ToFigures(lines), process.ExitCode);
    }

    /// <summary>The section's figures from the script's lines (others are left alone).</summary>
    public static List<Figure> ToFigures(IEnumerable<string> lines)
    {
        var rounds = new List<(int Round, string What, int Mib, double Ms, double Own)>();
        var taken = new Dictionary<int, (double DataMib, double DiskMib, double Ms)>();
        foreach (string raw in lines)
        {
            string line = raw.TrimEnd('\r');
            if (RoundLine().Match(line) is { Success: true } r)
            {
                rounds.Add((Int(r.Groups[1]), r.Groups[2].Value, Int(r.Groups[3]), Number(r.Groups[4].Value),
                    r.Groups[5].Success ? Number(r.Groups[5].Value) : double.NaN));
            }
            else if (TakenLine().Match(line) is { Success: true } t)
            {
                taken[Int(t.Groups[1])] = (Number(t.Groups[2].Value), Number(t.Groups[3].Value) / (1 << 20), Number(t.Groups[4].Value));
            }
        }
        List<double> Series(string what, int mib) =>
            [.. rounds.Where(x => x.Round > 0 && x.What == what && x.Mib == mib).OrderBy(x => x.Round).Select(x => x.Ms)];
        // The timed rounds run without -v (its logger's start is no part of a restore); the restores that say their own
        // time (-v) are the script's extra ones, round 0.
        List<double> Own(int mib) =>
            [.. rounds.Where(x => x.What == "restore" && x.Mib == mib && !double.IsNaN(x.Own)).OrderBy(x => x.Round).Select(x => x.Own)];
        List<double> Setup(int mib) => [.. rounds.Where(x => x.Round == 0 && x.What == "cold" && x.Mib == mib).Select(x => x.Ms)];

        var figures = new List<Figure>
        {
            new()
            {
                Section = Section,
                Name = "launch to a typed command's output, 256 MiB guest: restore beside a cold boot",
                Short = "restore/cold boot, 256 MiB",
                Unit = "ms",
                Values = { [Restore] = Series("restore", 256), [Cold] = Series("cold", 256) },
                Ratios = [(Restore, Cold)],
                Goal = new Goal(GoalKind.RatioAtMost, 0.1, Restore, "restore at most 0.1 of a cold boot (issue 19)"),
            },
            new()
            {
                Section = Section,
                Name = "restore to a typed command's output: a 2 GiB guest beside a 256 MiB one",
                Short = "restore 2 GiB/256 MiB",
                Unit = "ms",
                Values = { [Big] = Series("restore", 2048), [Small] = Series("restore", 256) },
                Ratios = [(Big, Small)],
                Goal = new Goal(GoalKind.RatioAtMost, 1.2, Big, "restore time of a 2 GiB guest within 1.2× of a 256 MiB one (issue 19)"),
            },
            new()
            {
                Section = Section,
                Name = "the launcher's own restore (check the snapshot, map RAM, build the devices, load every state)",
                Short = "launcher's restore 2 GiB/256 MiB",
                Unit = "ms",
                Values = { [Big] = Own(2048), [Small] = Own(256) },
                Ratios = [(Big, Small)],
            },
            new()
            {
                Section = Section,
                Name = "cold boot to a typed command's output (the boot each snapshot was taken of)",
                Unit = "ms",
                Values = { [Big] = Setup(2048), [Small] = Setup(256) },
            },
            new()
            {
                Section = Section,
                Name = "snapshot written (the paused guest's state and memory image, files synced)",
                Unit = "ms",
                Values = { [Big] = Taken(taken, 2048, t => t.Ms), [Small] = Taken(taken, 256, t => t.Ms) },
            },
            new()
            {
                Section = Section,
                Name = "guest RAM in the snapshot's memory image (pages ever touched and not zero)",
                Unit = "MiB",
                Values = { [Big] = Taken(taken, 2048, t => t.DataMib), [Small] = Taken(taken, 256, t => t.DataMib) },
            },
            new()
            {
                Section = Section,
                Name = "the snapshot directory on disk (du)",
                Unit = "MiB",
                Values = { [Big] = Taken(taken, 2048, t => t.DiskMib), [Small] = Taken(taken, 256, t => t.DiskMib) },
            },
        };
        return figures;
    }

    private static List<double> Taken(Dictionary<int, (double DataMib, double DiskMib, double Ms)> taken, int mib, Func<(double DataMib, double DiskMib, double Ms), double> pick) =>
        taken.TryGetValue(mib, out var t) ? [pick(t)] : [];

    private static int Int(Group g) => int.Parse(g.Value, CultureInfo.InvariantCulture);

    private static double Number(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : double.NaN;
}
