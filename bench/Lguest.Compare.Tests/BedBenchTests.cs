using Lguest.Compare;

namespace Lguest.Compare.Tests;

public class BedBenchTests
{
    private static BenchLine Line(string figure, string unit, string column, int round, double value) =>
        new("Nested bed", figure, unit, column, round, value);

    [Test]
    public void ToFigures_pairs_lguest_with_qemu_round_by_round()
    {
        List<Figure> figures = BedBench.ToFigures(
        [
            Line("boot", "s", "lguest-aot", 1, 2), Line("boot", "s", "qemu-pc", 1, 4),
            Line("boot", "s", "lguest-aot", 2, 9), Line("boot", "s", "qemu-pc", 2, 10),
        ]);

        Figure boot = figures.Single();
        Assert.That(boot.Ratios, Is.EqualTo(new[] { ("lguest-aot", "qemu-pc") }));
        Summary ratio = boot.Ratio("lguest-aot", "qemu-pc");
        Assert.That((ratio.Min, ratio.Max, ratio.Count), Is.EqualTo((0.5, 0.9, 2)));
    }

    [Test]
    public void ToFigures_leaves_a_missing_round_out_of_the_ratio()
    {
        List<Figure> figures = BedBench.ToFigures(
        [
            Line("dd", "MB/s", "lguest-aot", 1, 100), Line("dd", "MB/s", "qemu-pc", 1, 50),
            Line("dd", "MB/s", "qemu-pc", 2, 60),
            Line("dd", "MB/s", "lguest-aot", 3, double.NaN), Line("dd", "MB/s", "qemu-pc", 3, 70),
        ]);

        Figure dd = figures.Single();
        Assert.That(dd.Values["lguest-aot"], Has.Count.EqualTo(3));
        Summary ratio = dd.Ratio("lguest-aot", "qemu-pc");
        Assert.That((ratio.Median, ratio.Count), Is.EqualTo((2.0, 1)));
    }

    [Test]
    public void ToFigures_holds_a_rate_to_at_least_qemus_and_a_time_to_at_most()
    {
        List<Figure> figures = BedBench.ToFigures(
        [
            Line("tcp", "Mbit/s", "lguest-aot", 1, 1), Line("tcp", "Mbit/s", "qemu-pc", 1, 1),
            Line("boot", "ms", "lguest-aot", 1, 1), Line("boot", "ms", "qemu-pc", 1, 1),
        ]);

        Assert.That(figures.Select(f => (f.Name, f.LowerIsBetter, f.Goal!.Kind)),
            Is.EqualTo(new[] { ("tcp", false, GoalKind.RatioAtLeast), ("boot", true, GoalKind.RatioAtMost) }));
    }

    [Test]
    public void ToFigures_holds_where_the_time_goes_to_no_goal_and_draws_no_ratio()
    {
        const string Section = "Debian guest in the nested bed: " + BedBench.WhereTheTimeGoes;
        List<Figure> figures = BedBench.ToFigures(
        [
            new BenchLine(Section, "fio randread 4 KiB iodepth 1: KVM exits per request", "exits", "lguest-aot", 1, 1.5),
            new BenchLine(Section, "fio randread 4 KiB iodepth 1: KVM exits per request", "exits", "qemu-pc-uring", 1, 3.5),
            new BenchLine("Debian guest in the nested bed", "fio randread 4 KiB iodepth 1", "req/s", "lguest-aot", 1, 2000),
            new BenchLine("Debian guest in the nested bed", "fio randread 4 KiB iodepth 1", "req/s", "qemu-pc-uring", 1, 1000),
        ]);

        Assert.That(figures.Select(f => (f.Goal is null, f.Ratios.Count)), Is.EqualTo(new[] { (true, 0), (false, 1) }));
        Assert.That(figures[0].Summarize("qemu-pc-uring").Median, Is.EqualTo(3.5));
    }

    [Test]
    public void ToFigures_keeps_figures_of_one_name_and_different_units_apart()
    {
        List<Figure> figures = BedBench.ToFigures([Line("dd", "MB/s", "qemu-pc", 1, 1), Line("dd", "s", "qemu-pc", 1, 1)]);

        Assert.That(figures.Select(f => f.Unit), Is.EqualTo(new[] { "MB/s", "s" }));
    }

    [Test]
    public void Run_passes_the_arguments_parses_the_lines_and_reports_the_malformed_ones()
    {
        DirectoryInfo root = Directory.CreateTempSubdirectory("lguest-compare-tests-");
        try
        {
            RunAgainstAFakeBedScript(root.FullName);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    private static void RunAgainstAFakeBedScript(string root)
    {
        string script = Path.Combine(root, "bench", "bed", "bed-bench.sh");
        Directory.CreateDirectory(Path.GetDirectoryName(script)!);
        File.WriteAllText(script, """
            echo "booting L1 with $*"
            printf 'BENCH\tNested bed: boot\tto /init\tms\tlguest-aot\t1\t20\n'
            printf 'BENCH\tNested bed: boot\tto /init\tms\tqemu-pc\t1\t40\n'
            printf 'BENCH\tNested bed: boot\tto /init\tms\tkvmtool\t1\t40\n'
            exit 3
            """);
        var log = new List<string>();

        BedBench.Outcome outcome = BedBench.Run(root, ["--rounds", "2"], log.Add);

        Assert.That(outcome.ExitStatus, Is.EqualTo(3));
        Assert.That(outcome.Figures.Single().Ratio("lguest-aot", "qemu-pc").Median, Is.EqualTo(0.5));
        Assert.That(outcome.Problems.Single(), Does.Contain("kvmtool"));
        Assert.That(log, Has.Some.EqualTo("bed: booting L1 with --rounds 2"));
    }
}
