namespace Lguest.Compare;

/// <summary>
/// One measured quantity (a row of the report): its values per VMM (or per side: device and host), run by
/// run in the order they were taken, and which ratios to show. A ratio is taken pair by pair (run i of
/// the numerator over run i of the denominator: they ran back to back, under the same load) when both
/// sides have the same number of runs, else as the ratio of the medians.
/// </summary>
internal sealed class Figure
{
    public required string Section { get; init; }

    public required string Name { get; init; }

    public required string Unit { get; init; }

    /// <summary>A few words for the chart's axis (the name when not set).</summary>
    public string? Short { get; init; }

    /// <summary>The label on the chart.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string ChartName => Short ?? (Name.Length <= 40 ? Name : Name[..39] + "…");

    /// <summary>True for times, CPU and memory (a ratio under 1 favours the numerator); false for rates.</summary>
    public bool LowerIsBetter { get; init; } = true;

    /// <summary>Values by column (VMM or side), in run order.</summary>
    public Dictionary<string, List<double>> Values { get; init; } = new(StringComparer.Ordinal);

    /// <summary>The ratios to report: numerator column over denominator column.</summary>
    public List<(string Numerator, string Denominator)> Ratios { get; init; } = [];

    /// <summary>The goal of issue 9 this figure is held to, if any.</summary>
    public Goal? Goal { get; init; }

    /// <summary>Free text for the report (what the goal is, why a column is missing).</summary>
    public string? Note { get; set; }

    public void Add(string column, double value)
    {
        if (!Values.TryGetValue(column, out List<double>? list))
            Values[column] = list = [];
        list.Add(value);
    }

    /// <summary>Median, min and max of a column's values (NaN when it has none).</summary>
    public Summary Summarize(string column) =>
        Values.TryGetValue(column, out List<double>? list) ? Summary.Of(list) : Summary.Empty;

    /// <summary>The ratio numerator/denominator: median, min and max over the pairs (or of the medians).</summary>
    public Summary Ratio(string numerator, string denominator)
    {
        if (!Values.TryGetValue(numerator, out List<double>? top) || !Values.TryGetValue(denominator, out List<double>? bottom)
            || top.Count == 0 || bottom.Count == 0)
            return Summary.Empty;
        if (top.Count == bottom.Count)
            return Summary.Of(top.Zip(bottom, (a, b) => a / b).Where(double.IsFinite).ToList());
        double ratio = Summary.Of(top).Median / Summary.Of(bottom).Median;
        return new Summary(ratio, ratio, ratio, 1);
    }
}

/// <summary>Median, min and max of a set of runs.</summary>
internal readonly record struct Summary(double Median, double Min, double Max, int Count)
{
    public static Summary Empty => new(double.NaN, double.NaN, double.NaN, 0);

    public static Summary Of(IReadOnlyCollection<double> values)
    {
        double[] sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0)
            return Empty;
        int n = sorted.Length;
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        return new Summary(median, sorted[0], sorted[^1], n);
    }
}
