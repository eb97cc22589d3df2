using System.Globalization;
using System.Text;

namespace Lguest.Compare;

/// <summary>bench/results.md: the machine, the goals with their verdicts, the chart, and every figure with its ratios.</summary>
internal static class ResultsReport
{
    public static string Render(Results results, string command)
    {
        var md = new StringBuilder();
        MachineInfo? m = results.Machine;
        md.AppendLine("# Lguest.NET beside QEMU: benchmark results");
        md.AppendLine();
        md.AppendLine($"Written by `{command}` on {m?.Date ?? "?"}; a rerun overwrites this file, `results.json` and `ratios.png`. ");
        md.AppendLine("What each figure measures, how, and where the time and memory go: [README.md](README.md).");
        md.AppendLine();
        md.AppendLine("| machine of the last run (each section names its own) | |");
        md.AppendLine("| --- | --- |");
        if (m is not null)
        {
            md.AppendLine($"| CPU | {m.Cpu}, {m.Cores} cores |");
            md.AppendLine($"| kernel | Linux {m.Kernel}, KVM module `{m.KvmModule}` |");
            md.AppendLine($"| QEMU | {m.QemuVersion} |");
            md.AppendLine($"| .NET | {m.DotnetVersion} |");
            md.AppendLine($"| date | {m.Date} |");
        }
        md.AppendLine($"| rounds | {results.Runs} in the direct and device sections (each VMM, or device and host, once per round, in turn); the nested bed's are its script's |");
        md.AppendLine();
        md.AppendLine("| column | what ran |");
        md.AppendLine("| --- | --- |");
        foreach ((string name, string description) in results.Vmms)
            md.AppendLine($"| `{name}` | {description} |");
        md.AppendLine($"| `{DeviceBench.Device}` / `{DeviceBench.Host}` | the device driven through its rings by a test driver in this process / the host's own syscall on the same file or tap |");
        md.AppendLine();

        md.AppendLine("## Goals (issue 9)");
        md.AppendLine();
        md.AppendLine("| goal | figure | measured (median) | verdict |");
        md.AppendLine("| --- | --- | --- | --- |");
        foreach (SectionResult section in results.Sections)
        {
            foreach (Figure figure in section.Figures.Where(f => f.Goal is not null))
            {
                foreach (GoalVerdict verdict in figure.Goal!.Judge(figure))
                    md.AppendLine($"| {verdict.Goal.Text} | {figure.Name} | {verdict.What}: {Number(verdict.Value)}{(verdict.Goal.Kind == GoalKind.ColumnBelow ? " " + figure.Unit : "")} | {Verdict(verdict, figure.Unit)} |");
            }
        }
        md.AppendLine();
        md.AppendLine("![lguest/QEMU and device/host ratios](ratios.png)");
        md.AppendLine();

        foreach (SectionResult section in results.Sections)
        {
            md.AppendLine($"## {section.Name}");
            md.AppendLine();
            foreach (string note in results.Notes.GetValueOrDefault(section.Name, []))
                md.AppendLine(note).AppendLine();
            string on = section.Machine.Length == 0 ? "" : $" on {section.Machine}";
            md.AppendLine($"Taken {section.Date}{on}; {section.Conditions}.");
            md.AppendLine();
            if (section.Figures.Count == 0)
                continue;
            string[] columns = [.. section.Figures.SelectMany(f => f.Values.Keys).Distinct().OrderBy(ColumnOrder)];
            md.AppendLine($"| figure | unit | {string.Join(" | ", columns.Select(c => $"`{c}` median [min–max]"))} | ratios, median [min–max] |");
            md.AppendLine($"| --- | --- |{string.Concat(Enumerable.Repeat(" ---: |", columns.Length))} --- |");
            foreach (Figure figure in section.Figures)
            {
                var cells = columns.Select(c => figure.Values.ContainsKey(c) ? Cell(figure.Summarize(c)) : "");
                string ratios = string.Join("<br>", figure.Ratios.Select(r => $"{r.Numerator}/{r.Denominator} {Cell(figure.Ratio(r.Numerator, r.Denominator))}"));
                string better = figure.LowerIsBetter ? "lower is better" : "higher is better";
                md.AppendLine($"| {figure.Name} ({better}) | {figure.Unit} | {string.Join(" | ", cells)} | {ratios} |");
            }
            foreach (Figure figure in section.Figures.Where(f => f.Note is not null))
                md.AppendLine().AppendLine($"*{figure.Name}:* {figure.Note}");
            md.AppendLine();
        }
        return md.ToString();
    }

    private static string Verdict(GoalVerdict v, string unit)
    {
        if (v.Met is null)
            return "no data";
        string bound = v.Goal.Kind == GoalKind.ColumnBelow ? $"{Number(v.Goal.Threshold)} {unit}" : Number(v.Goal.Threshold);
        if (v.Met.Value)
            return v.Goal.Kind switch
            {
                GoalKind.ColumnBelow => $"**met** ({v.OverThreshold * 100:0}% of the {bound} bound)",
                GoalKind.RatioAtMost => $"**met** (≤ {bound})",
                _ => $"**met** (≥ {bound})",
            };
        return v.Goal.Kind switch
        {
            GoalKind.ColumnBelow => $"**not met**: {v.OverThreshold:0.0#}× the {bound} bound",
            GoalKind.RatioAtMost => $"**not met**: {Percent(v.OverThreshold - 1)} above {bound}",
            _ => $"**not met**: {Percent(1 - v.OverThreshold)} short of {bound}",
        };
    }

    private static string Percent(double fraction) =>
        (fraction * 100).ToString(fraction < 0.1 ? "0.0" : "0", CultureInfo.InvariantCulture) + "%";

    private static string Cell(Summary s) => s.Count == 0 ? "–" : $"{Number(s.Median)} [{Number(s.Min)}–{Number(s.Max)}]";

    /// <summary>Three or four significant digits, no exponent.</summary>
    internal static string Number(double v)
    {
        if (double.IsNaN(v))
            return "–";
        double a = Math.Abs(v);
        string format = a >= 1000 ? "#,0" : a >= 100 ? "0" : a >= 10 ? "0.0" : a >= 1 ? "0.00" : "0.000";
        return v.ToString(format, CultureInfo.InvariantCulture);
    }

    private static int ColumnOrder(string column) => column switch
    {
        Vmm.LguestAot => 0,
        Vmm.LguestJit => 1,
        Vmm.QemuPc => 2,
        Vmm.QemuMicrovm => 3,
        DeviceBench.Device => 4,
        DeviceBench.Host => 5,
        _ => 6,
    };
}
