using System.Globalization;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// Several vCPUs under a stock kernel: lguest in the nested bed (an L1 of two vCPUs, so two of the guest's
/// can run at the same moment) boots the Debian cloud kernel with <c>--cpus=2</c>, then <c>--cpus=4</c>, in one
/// bed run, and the <c>smp</c> scenario (Lguest.Tests/Guests/scenarios/smp) pins a busy loop to every CPU
/// Linux brought online. Each boot must show all its CPUs online, each loop on its own CPU (the scheduler's
/// own word: /proc/self/stat's processor field), and busy time gained by every CPU in /proc/stat: the
/// application processors came up through the local APICs and took their share of the work.
/// </summary>
[Category("Linux")]
public partial class SmpInBedTests
{
    private const string Separator = "SMP-FIRST-EXIT";

    private NestedBedRun _run = null!;

    [GeneratedRegex(@"^GUEST-SMP online=(\S+) count=(\d+) possible=(\S+)$", RegexOptions.Multiline)]
    private static partial Regex Summary();

    [GeneratedRegex(@"^GUEST-SMP-WORKER (\d+) ran-on=(\d+)$", RegexOptions.Multiline)]
    private static partial Regex Worker();

    [GeneratedRegex(@"^GUEST-SMP-CPU (\d+) busy-ticks=(-?\d+)$", RegexOptions.Multiline)]
    private static partial Regex CpuTicks();

    [OneTimeSetUp]
    public void BootTwice()
    {
        NestedBed bed = NestedBed.OpenOrIgnore();
        string two = NestedBed.LguestCommand(GuestKernelFormat.PvhVmlinux, "--cpus=2", "lguest.scenario=smp");
        string four = NestedBed.LguestCommand(GuestKernelFormat.PvhVmlinux, "--cpus=4", "lguest.scenario=smp");
        _run = bed.Run($"{two}; echo \"{Separator} $?\"; exec {four}", l1Cpus: 2);
    }

    [TestCase(2)]
    [TestCase(4)]
    public void Every_CPU_comes_online_and_runs_its_own_share_of_the_work(int cpus)
    {
        int split = _run.Console.IndexOf(Separator, StringComparison.Ordinal);
        Assert.That(split, Is.GreaterThanOrEqualTo(0), _run.ToString());
        string boot = cpus == 2 ? _run.Console[..split] : _run.Console[split..];
        int[] all = Enumerable.Range(0, cpus).ToArray();
        TestContext.Out.WriteLine(string.Join('\n', boot.Split('\n').Where(line => line.StartsWith("GUEST-SMP", StringComparison.Ordinal))));

        Match summary = Summary().Match(boot);
        Dictionary<int, int> ranOn = Worker().Matches(boot).ToDictionary(m => Number(m.Groups[1]), m => Number(m.Groups[2]));
        Dictionary<int, int> ticks = CpuTicks().Matches(boot).ToDictionary(m => Number(m.Groups[1]), m => Number(m.Groups[2]));
        Assert.Multiple(() =>
        {
            Assert.That(summary.Success, Is.True, boot);
            Assert.That(summary.Groups[1].Value, Is.EqualTo($"0-{cpus - 1}"), "online CPUs");
            Assert.That(summary.Groups[2].Value, Is.EqualTo(cpus.ToString(CultureInfo.InvariantCulture)), "nproc");
            Assert.That(ranOn.Keys, Is.EquivalentTo(all), "a worker per CPU\n" + boot);
            foreach ((int cpu, int where) in ranOn)
                Assert.That(where, Is.EqualTo(cpu), $"the worker pinned to CPU {cpu} ran there");
            Assert.That(ticks.Keys, Is.EquivalentTo(all), "/proc/stat has every CPU\n" + boot);
            foreach ((int cpu, int gained) in ticks)
                Assert.That(gained, Is.Positive, $"CPU {cpu} gained busy time during the work\n{boot}");
            Assert.That(boot, Does.Contain("GUEST-SCENARIO-EXIT 0"), boot);
        });
        if (cpus == 2)
            Assert.That(_run.Console, Does.Contain($"{Separator} 0"), "lguest --cpus=2 exited 0\n" + _run);
        else
            Assert.That(_run.ExitStatus, Is.Zero, "lguest --cpus=4 exited 0 (BED-EXIT)\n" + _run);
    }

    private static int Number(Group group) => int.Parse(group.Value, CultureInfo.InvariantCulture);
}
