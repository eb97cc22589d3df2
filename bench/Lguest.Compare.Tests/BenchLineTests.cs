using Lguest.Compare;

namespace Lguest.Compare.Tests;

/// <summary>The line contract between the nested bed's scripts (bench/bed/) and the harness.</summary>
public class BenchLineTests
{
    [Test]
    public void TryParse_reads_every_field_of_a_contract_line()
    {
        bool ok = BenchLine.TryParse("BENCH\tNested bed: boot\tlaunch to /init (bzImage)\ts\tqemu-pc\t3\t12.5", out BenchLine? line, out string? problem);

        Assert.That(ok, Is.True);
        Assert.That(problem, Is.Null);
        Assert.That(line, Is.EqualTo(new BenchLine("Nested bed: boot", "launch to /init (bzImage)", "s", "qemu-pc", 3, 12.5)));
    }

    [Test]
    public void TryParse_reads_nan_as_a_failed_run()
    {
        Assert.That(BenchLine.TryParse("BENCH\ts\tf\tms\tlguest-aot\t1\tnan", out BenchLine? line, out _), Is.True);
        Assert.That(line!.Value, Is.NaN);
    }

    [Test]
    public void TryParse_takes_a_trailing_carriage_return()
    {
        Assert.That(BenchLine.TryParse("BENCH\ts\tf\tMB/s\tlguest-jit\t2\t1e3\r", out BenchLine? line, out _), Is.True);
        Assert.That(line!.Value, Is.EqualTo(1000));
    }

    [Test]
    public void TryParse_leaves_a_log_line_alone_without_a_problem()
    {
        Assert.That(BenchLine.TryParse("booting L1 ...", out BenchLine? line, out string? problem), Is.False);
        Assert.That(line, Is.Null);
        Assert.That(problem, Is.Null);
    }

    [Test]
    public void TryParse_refuses_a_line_with_a_field_missing()
    {
        Assert.That(BenchLine.TryParse("BENCH\ts\tf\tms\tqemu-pc\t1", out _, out string? problem), Is.False);
        Assert.That(problem, Does.Contain("5 fields"));
    }

    [Test]
    public void TryParse_refuses_an_unknown_column()
    {
        Assert.That(BenchLine.TryParse("BENCH\ts\tf\tms\tfirecracker\t1\t2", out _, out string? problem), Is.False);
        Assert.That(problem, Does.Contain("firecracker"));
    }

    [TestCase("0")]
    [TestCase("-1")]
    [TestCase("one")]
    public void TryParse_refuses_a_round_that_is_not_a_number_from_one(string round)
    {
        Assert.That(BenchLine.TryParse($"BENCH\ts\tf\tms\tqemu-pc\t{round}\t2", out _, out string? problem), Is.False);
        Assert.That(problem, Does.Contain("round"));
    }

    [TestCase("")]
    [TestCase("fast")]
    [TestCase("inf")]
    public void TryParse_refuses_a_value_that_is_neither_a_number_nor_nan(string value)
    {
        Assert.That(BenchLine.TryParse($"BENCH\ts\tf\tms\tqemu-pc\t1\t{value}", out _, out string? problem), Is.False);
        Assert.That(problem, Does.Contain("value"));
    }

    [Test]
    public void TryParse_refuses_an_empty_section()
    {
        Assert.That(BenchLine.TryParse("BENCH\t\tf\tms\tqemu-pc\t1\t2", out _, out string? problem), Is.False);
        Assert.That(problem, Does.Contain("empty"));
    }

    [TestCase("ms", true)]
    [TestCase("s", true)]
    [TestCase("MiB", true)]
    [TestCase("MB/s", false)]
    [TestCase("req/s", false)]
    public void IsLowerBetter_treats_rates_as_higher_is_better(string unit, bool lowerIsBetter) =>
        Assert.That(BenchLine.IsLowerBetter(unit), Is.EqualTo(lowerIsBetter));
}
