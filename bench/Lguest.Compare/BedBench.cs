using System.Diagnostics;

namespace Lguest.Compare;

/// <summary>
/// Real Linux in the nested bed: runs bench/bed/bed-bench.sh (which boots the L1 machine and runs lguest and
/// QEMU side by side inside it) and turns its BENCH lines into figures, with lguest/QEMU ratios paired by
/// round. Times inside L1 are emulated: only the ratios count.
/// </summary>
internal static class BedBench
{
    public const string Script = "bench/bed/bed-bench.sh";

    /// <summary>How the sections that explain others' rates end (debian-in-l1.sh --stats: per request costs).</summary>
    public const string WhereTheTimeGoes = "where the time goes per fio request";

    /// <summary>The section's name when the script is not there or printed nothing.</summary>
    public const string SectionWhenAbsent = "Real Linux in the nested bed";

    /// <summary>The figures by the script's sections, its exit status, and the contract breaches seen.</summary>
    public sealed record Outcome(List<Figure> Figures, int ExitStatus, List<string> Problems);

    /// <summary>
    /// Runs the script with <paramref name="arguments"/> (passed through as they are: the contract is its
    /// output only), its standard error going to ours.
    /// </summary>
    public static Outcome Run(string root, IReadOnlyList<string> arguments, Action<string> log)
    {
        var start = new ProcessStartInfo("bash") { WorkingDirectory = root, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(root, Script));
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using Process process = Process.Start(start)!;
        var lines = new List<BenchLine>();
        var problems = new List<string>();
        for (string? line; (line = process.StandardOutput.ReadLine()) is not null;)
        {
            if (BenchLine.TryParse(line, out BenchLine? parsed, out string? problem))
            {
                lines.Add(parsed!);
                log($"bed: {parsed!.Section} / {parsed.Figure} / {parsed.Column} round {parsed.Round}: {parsed.Value} {parsed.Unit}");
            }
            else if (problem is not null)
            {
                problems.Add($"{problem}: {line.Replace('\t', ' ')}");
                log($"bed: refused a BENCH line ({problem}): {line.Replace('\t', ' ')}");
            }
            else
            {
                log("bed: " + line);
            }
        }
        process.WaitForExit();
        return new Outcome(ToFigures(lines), process.ExitCode, problems);
    }

    /// <summary>
    /// Groups lines into figures (by section, name and unit, in first-seen order); each column's values sit at
    /// their round's index (NaN where a round has none), so ratios pair the runs of one round.
    /// </summary>
    public static List<Figure> ToFigures(IEnumerable<BenchLine> lines)
    {
        var figures = new List<Figure>();
        foreach (IGrouping<(string Section, string Figure, string Unit), BenchLine> group in lines.GroupBy(l => (l.Section, l.Figure, l.Unit)))
        {
            int rounds = group.Max(l => l.Round);
            string[] present = [.. BenchLine.Columns.Where(c => group.Any(l => l.Column == c))];
            string[] lguests = [.. present.Where(c => c.StartsWith("lguest", StringComparison.Ordinal))];
            string[] qemus = [.. present.Where(c => c.StartsWith("qemu", StringComparison.Ordinal))];
            bool lowerIsBetter = BenchLine.IsLowerBetter(group.Key.Unit);
            // Where the time goes (debian-in-l1.sh --stats: exits, CPU time and system calls per request): what explains
            // the rates, not figures held to a goal; no ratios either, so the chart keeps to what the goals judge.
            bool explanation = group.Key.Section.EndsWith(WhereTheTimeGoes, StringComparison.Ordinal);
            // Issue 20: fio in the Debian guest at 1.3 of QEMU's rate (every aio= configuration, so its best too).
            bool fio = group.Key.Section.StartsWith("Debian", StringComparison.Ordinal) && !lowerIsBetter;
            // Issue 16: a stream at 0.8 of vhost-vsock, an in-kernel peer.
            bool vsock = group.Key.Section.StartsWith("vsock", StringComparison.Ordinal);
            var figure = new Figure
            {
                Section = group.Key.Section,
                Name = group.Key.Figure,
                Unit = group.Key.Unit,
                LowerIsBetter = lowerIsBetter,
                Ratios = explanation ? [] : [.. lguests.SelectMany(l => qemus.Select(q => (l, q)))],
                Goal = explanation
                    ? null
                    : fio
                    ? new Goal(GoalKind.RatioAtLeast, 1.3, Vmm.LguestAot, "fio in the Debian guest, at least 1.3 of QEMU's rate")
                    : vsock
                    ? new Goal(GoalKind.RatioAtLeast, 0.8, lguests.FirstOrDefault() ?? Vmm.LguestAot, "at least 0.8 of vhost-vsock's rate")
                    : new Goal(lowerIsBetter ? GoalKind.RatioAtMost : GoalKind.RatioAtLeast, 1, Vmm.LguestAot,
                        lowerIsBetter ? "in the nested bed, at or below QEMU's" : "in the nested bed, at or above QEMU's rate"),
            };
            foreach (string column in present)
            {
                var values = Enumerable.Repeat(double.NaN, rounds).ToList();
                // The last line for a round wins, as a rerun of that round would.
                foreach (BenchLine line in group.Where(l => l.Column == column))
                    values[line.Round - 1] = line.Value;
                figure.Values[column] = values;
            }
            figures.Add(figure);
        }
        return figures;
    }
}
