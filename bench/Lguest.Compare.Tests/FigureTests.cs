using Lguest.Compare;

namespace Lguest.Compare.Tests;

public class FigureTests
{
    private static Figure Times(double[] lguest, double[] qemu)
    {
        var figure = new Figure { Section = "s", Name = "f", Unit = "ms", Ratios = [(Vmm.LguestAot, Vmm.QemuPc)] };
        foreach (double v in lguest)
            figure.Add(Vmm.LguestAot, v);
        foreach (double v in qemu)
            figure.Add(Vmm.QemuPc, v);
        return figure;
    }

    [Test]
    public void Ratio_divides_run_by_run_not_median_by_median()
    {
        // Pairs 1/2, 10/1, 3/3: ratios 0.5, 10, 1 (median 1); the medians alone would give 3/2.
        Figure figure = Times([1, 10, 3], [2, 1, 3]);

        Summary ratio = figure.Ratio(Vmm.LguestAot, Vmm.QemuPc);

        Assert.That((ratio.Median, ratio.Min, ratio.Max, ratio.Count), Is.EqualTo((1.0, 0.5, 10.0, 3)));
    }

    [Test]
    public void Ratio_of_columns_with_different_run_counts_is_the_ratio_of_the_medians()
    {
        Figure figure = Times([2, 4], [1, 2, 3]);

        Assert.That(figure.Ratio(Vmm.LguestAot, Vmm.QemuPc).Median, Is.EqualTo(1.5));
    }

    [Test]
    public void Ratio_leaves_out_a_pair_with_a_failed_run()
    {
        Figure figure = Times([1, double.NaN, 4], [2, 2, 2]);

        Summary ratio = figure.Ratio(Vmm.LguestAot, Vmm.QemuPc);

        Assert.That((ratio.Median, ratio.Count), Is.EqualTo((1.25, 2)));
    }

    [Test]
    public void Summarize_takes_the_mean_of_the_middle_two_of_an_even_count()
    {
        Figure figure = Times([4, 1, 3, 2], []);

        Summary s = figure.Summarize(Vmm.LguestAot);

        Assert.That((s.Median, s.Min, s.Max), Is.EqualTo((2.5, 1.0, 4.0)));
    }

    [Test]
    public void Summarize_of_a_column_with_no_values_is_empty()
    {
        Assert.That(Times([], []).Summarize(Vmm.QemuMicrovm).Count, Is.Zero);
    }

    [Test]
    public void A_column_goal_is_met_only_under_its_bound()
    {
        var goal = new Goal(GoalKind.ColumnBelow, 10, Vmm.LguestAot, "under 10 ms");

        Assert.That(goal.Judge(Times([9, 9.5, 30], [])).Single().Met, Is.True);
        Assert.That(goal.Judge(Times([10, 10, 10], [])).Single().Met, Is.False);
    }

    [Test]
    public void A_ratio_goal_judges_every_ratio_of_its_column()
    {
        var figure = new Figure
        {
            Section = "s", Name = "f", Unit = "µs",
            Ratios = [(Vmm.LguestAot, Vmm.QemuPc), (Vmm.LguestAot, Vmm.QemuMicrovm), (Vmm.LguestJit, Vmm.QemuPc)],
        };
        figure.Add(Vmm.LguestAot, 9);
        figure.Add(Vmm.LguestJit, 99);
        figure.Add(Vmm.QemuPc, 10);
        figure.Add(Vmm.QemuMicrovm, 8);
        var goal = new Goal(GoalKind.RatioAtMost, 1, Vmm.LguestAot, "at or below QEMU's");

        var verdicts = goal.Judge(figure).Select(v => (v.What, v.Met)).ToList();

        Assert.That(verdicts, Is.EqualTo(new (string, bool?)[] { ("lguest-aot/qemu-pc", true), ("lguest-aot/qemu-microvm", false) }));
    }

    [Test]
    public void A_goal_without_data_has_no_verdict()
    {
        var goal = new Goal(GoalKind.RatioAtLeast, 0.9, Vmm.LguestAot, "at least 0.9");

        Assert.That(goal.Judge(Times([], [1])).Single().Met, Is.Null);
    }
}
