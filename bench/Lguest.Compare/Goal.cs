namespace Lguest.Compare;

/// <summary>How a <see cref="Goal"/> is judged.</summary>
internal enum GoalKind
{
    /// <summary>The column's median is under the threshold.</summary>
    ColumnBelow,

    /// <summary>Every ratio with the column as numerator has a median at or below the threshold.</summary>
    RatioAtMost,

    /// <summary>Every ratio with the column as numerator has a median at or above the threshold.</summary>
    RatioAtLeast,
}

/// <summary>One of issue 9's goals, attached to the figure it is held to.</summary>
/// <param name="Kind">How it is judged.</param>
/// <param name="Threshold">The bound, in the figure's unit (ColumnBelow) or as a ratio.</param>
/// <param name="Column">The column judged: the shipping lguest (NativeAOT), or the device.</param>
/// <param name="Text">The goal as the issue words it.</param>
internal sealed record Goal(GoalKind Kind, double Threshold, string Column, string Text)
{
    /// <summary>
    /// Goals of their own for the ratios over particular columns, by that column: the seccomp filter's cost is held
    /// to the same launcher with --seccomp=off, not to QEMU's bound.
    /// </summary>
    public Dictionary<string, Goal> ByDenominator { get; init; } = [];

    /// <summary>The verdicts on <paramref name="figure"/>: one per ratio judged, or one for the column.</summary>
    public IEnumerable<GoalVerdict> Judge(Figure figure)
    {
        if (Kind == GoalKind.ColumnBelow)
        {
            Summary s = figure.Summarize(Column);
            yield return new GoalVerdict(this, figure, Column, s.Median, s.Count > 0 ? s.Median < Threshold : null,
                s.Count > 0 ? s.Median / Threshold : double.NaN);
            yield break;
        }
        foreach ((string numerator, string denominator) in figure.Ratios.Where(r => r.Numerator == Column))
        {
            Goal goal = ByDenominator.GetValueOrDefault(denominator, this);
            Summary r = figure.Ratio(numerator, denominator);
            bool? met = r.Count == 0 ? null : goal.Kind == GoalKind.RatioAtMost ? r.Median <= goal.Threshold : r.Median >= goal.Threshold;
            yield return new GoalVerdict(goal, figure, $"{numerator}/{denominator}", r.Median, met, r.Count > 0 ? r.Median / goal.Threshold : double.NaN);
        }
    }
}

/// <summary>A goal judged on one figure: the value held to it, and whether it is met (null: no data).</summary>
internal sealed record GoalVerdict(Goal Goal, Figure Figure, string What, double Value, bool? Met, double OverThreshold);
