using Lguest.Compare;

namespace Lguest.Compare.Tests;

public class ResultsNotesTests
{
    private static Figure Named(string name, double value) => ResultsMergeTests.Named(name, value);

    [Test]
    public void A_section_s_hand_written_note_survives_a_rerun_and_a_merge_and_is_shown_above_its_table()
    {
        var results = new Results();
        results.Replace("devices", [new SectionResult("Host side", "first", [Named("a", 1)])]);
        results.Notes["Host side"] = ["Taken with the vCPU ring."];

        results.Replace("devices", [new SectionResult("Host side", "second", [Named("a", 2)])]);
        results.Merge("devices", [new SectionResult("Host side", "third", [Named("b", 3)])]);
        string md = ResultsReport.Render(results, "bench/run.sh");

        int note = md.IndexOf("Taken with the vCPU ring.", StringComparison.Ordinal);
        int heading = md.IndexOf("## Host side", StringComparison.Ordinal);
        int taken = md.IndexOf("Taken 20", heading, StringComparison.Ordinal);
        Assert.That(note, Is.GreaterThan(heading), md);
        Assert.That(note, Is.LessThan(taken), "the note stands above the section's conditions and table\n" + md);
    }

    [Test]
    public void Each_section_names_the_host_it_was_measured_on_and_a_merge_keeps_the_earlier_host()
    {
        var results = new Results();
        results.Replace("devices", [new SectionResult("Host side", "5 rounds", [Named("a", 1)]) { Date = "2026-12-01 10:00 UTC", Machine = "Linux 6.1, kvm_pvm, /dev/kvm, 2 cores" }]);

        results.Merge("devices", [new SectionResult("Host side", "rerun of b", [Named("b", 2)])]);
        SectionResult section = results.Sections.Single();
        string md = ResultsReport.Render(results, "bench/run.sh");

        Assert.That(section.Machine, Is.EqualTo(MachineInfo.Brief()));
        Assert.That(section.Conditions, Does.Contain("2026-12-01 10:00 UTC on Linux 6.1, kvm_pvm, /dev/kvm, 2 cores: 5 rounds"));
        Assert.That(md, Does.Contain($"on {MachineInfo.Brief()}; rerun of b"));
    }
}
