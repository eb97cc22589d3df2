using Lguest.Compare;

namespace Lguest.Compare.Tests;

public class ResultsMergeTests
{
    /// <summary>A figure with one lguest-device value: what the merge and notes tests put in their sections.</summary>
    internal static Figure Named(string name, double value)
    {
        var figure = new Figure { Section = "devices", Name = name, Unit = "req/s" };
        figure.Add("lguest-device", value);
        return figure;
    }

    private static Results Earlier()
    {
        var results = new Results();
        results.Replace("devices", [new SectionResult("devices", "5 rounds, load 1.0", [Named("a", 1), Named("b", 2), Named("c", 3)]) { Date = "2026-12-07 18:56 UTC" }]);
        results.Replace("bed", [new SectionResult("bed", "its script's", [Named("boot", 9)])]);
        return results;
    }

    [Test]
    public void A_rerun_of_some_cases_replaces_those_figures_in_place_and_keeps_the_rest()
    {
        Results results = Earlier();

        results.Merge("devices", [new SectionResult("devices", "5 rounds, load 2.0; only the cases named b", [Named("b", 20), Named("d", 40)])]);

        SectionResult devices = results.Sections.Single(s => s.Source == "devices");
        Assert.That(devices.Figures.Select(f => (f.Name, f.Values["lguest-device"][0])),
            Is.EqualTo(new[] { ("a", 1.0), ("b", 20.0), ("c", 3.0), ("d", 40.0) }));
        Assert.That(devices.Conditions, Does.Contain("only the cases named b").And.Contain("2026-12-07 18:56 UTC: 5 rounds, load 1.0"));
        Assert.That(results.Sections.Select(s => s.Source), Is.EqualTo(new[] { "devices", "bed" }), "the other sources are untouched");
    }

    [Test]
    public void Merging_twice_lists_each_earlier_run_once()
    {
        Results results = Earlier();

        results.Merge("devices", [new SectionResult("devices", "second", [Named("b", 20)])]);
        results.Merge("devices", [new SectionResult("devices", "third", [Named("c", 30)])]);

        string conditions = results.Sections.Single(s => s.Source == "devices").Conditions;
        Assert.That(conditions, Does.StartWith("third; the other cases as taken earlier: "));
        Assert.That(conditions.Split("the other cases as taken earlier").Length, Is.EqualTo(2), conditions);
        Assert.That(conditions, Does.Contain("second").And.Contain("5 rounds, load 1.0"));
    }

    [Test]
    public void A_rerun_of_every_case_keeps_only_its_own_conditions()
    {
        Results results = Earlier();

        results.Merge("devices", [new SectionResult("devices", "all again", [Named("a", 1), Named("b", 2), Named("c", 3)])]);

        Assert.That(results.Sections.Single(s => s.Source == "devices").Conditions, Is.EqualTo("all again"));
    }
}
