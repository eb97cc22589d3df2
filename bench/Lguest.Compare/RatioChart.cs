using System.Globalization;
using ScottPlot;

namespace Lguest.Compare;

/// <summary>
/// bench/ratios.png: one horizontal bar per ratio (NativeAOT lguest over QEMU, or the device over the host), on a log2
/// scale so that 1 (a tie) is the origin and 2x and 0.5x are the same length. A bar is green where the goal
/// it is held to is met or, with no goal, where lguest does better (a lower time or memory, a higher rate);
/// red otherwise. The whisker spans the ratio's min and max over the rounds.
/// </summary>
internal static class RatioChart
{
    private const double Clamp = 6; // log2: bars stop at 1/64x and 64x, so one outlier cannot flatten the rest

    public static void Draw(Results results, string path)
    {
        var rows = new List<(string Label, Summary Ratio, bool LowerIsBetter, bool Good)>();
        foreach (SectionResult section in results.Sections)
        {
            foreach (Figure figure in section.Figures)
            {
                // The JIT launcher's ratios are in the report's tables; the chart keeps to the shipping binary.
                foreach ((string numerator, string denominator) in figure.Ratios.Where(r => r.Numerator != Vmm.LguestJit))
                {
                    Summary ratio = figure.Ratio(numerator, denominator);
                    if (ratio.Count == 0)
                        continue;
                    // Green: the goal this ratio is held to is met or, with no goal, lguest does better than the reference.
                    bool? met = figure.Goal?.Judge(figure).FirstOrDefault(v => v.What == $"{numerator}/{denominator}")?.Met;
                    bool good = met ?? (figure.LowerIsBetter ? ratio.Median <= 1 : ratio.Median >= 1);
                    rows.Add(($"{figure.ChartName} {Short(numerator)}/{Short(denominator)}", ratio, figure.LowerIsBetter, good));
                }
            }
        }

        var plot = new Plot();
        // Top to bottom in report order: the first row gets the highest position.
        var bars = new List<Bar>();
        var positions = new List<double>();
        var labels = new List<string>();
        for (int i = 0; i < rows.Count; i++)
        {
            (string label, Summary ratio, bool lowerIsBetter, bool good) = rows[i];
            double position = rows.Count - i;
            double value = Log(ratio.Median);
            bars.Add(new Bar
            {
                Position = position,
                Value = value,
                ValueBase = 0,
                FillColor = good ? Colors.SeaGreen : Colors.IndianRed,
                Size = 0.7,
            });
            var whisker = plot.Add.Line(Log(ratio.Min), position, Log(ratio.Max), position);
            whisker.LineColor = Colors.Black;
            whisker.LineWidth = 1.5f;
            var text = plot.Add.Text(ratio.Median.ToString("0.00", CultureInfo.InvariantCulture) + (lowerIsBetter ? "  (lower is better)" : "  (higher is better)"),
                Math.Max(0, Math.Max(value, Log(ratio.Max))) + 0.1, position);
            text.LabelFontSize = 11;
            text.LabelAlignment = Alignment.MiddleLeft;
            positions.Add(position);
            labels.Add(label);
        }
        var barPlot = plot.Add.Bars(bars);
        barPlot.Horizontal = true;
        plot.Add.VerticalLine(0, 1.5f, Colors.Black);

        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. positions], [.. labels]);
        double[] ticks = [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6];
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks,
            [.. ticks.Select(t => Math.Pow(2, t).ToString("0.###", CultureInfo.InvariantCulture))]);
        double low = Math.Min(-1, rows.Count == 0 ? -1 : rows.Min(r => Log(r.Ratio.Min)) - 0.3);
        double high = Math.Max(1, rows.Count == 0 ? 1 : rows.Max(r => Log(r.Ratio.Max)) + 2.5);
        plot.Axes.SetLimits(low, high, 0.3, rows.Count + 0.7);
        plot.Title("lguest (NativeAOT) relative to QEMU, and its devices relative to the host's own I/O");
        plot.XLabel("ratio, median of the rounds (log scale; whiskers: min to max; green: goal met, or better than the reference)");
        plot.SavePng(path, 1400, 120 + 26 * Math.Max(rows.Count, 4));
    }

    private static double Log(double ratio) => Math.Clamp(Math.Log2(ratio), -Clamp, Clamp);

    private static string Short(string column) => column switch
    {
        Vmm.LguestAot => "aot",
        Vmm.LguestJit => "jit",
        Vmm.QemuPc => "pc",
        Vmm.QemuMicrovm => "microvm",
        DeviceBench.Device => "device",
        DeviceBench.Host => "host",
        _ => column,
    };
}
