using System.Globalization;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// Several vCPUs under a stock kernel: lguest in the nested bed (an L1 of two vCPUs, so two of the guest's
/// can run at the same moment) boots the Debian cloud kernel with <c>--cpus=2</c>, then <c>--cpus=4</c>, in one
/// bed run (Lguest.Tests/Guests/smp-l1.sh), and the <c>smp</c> scenario (Lguest.Tests/Guests/scenarios/smp) pins a
/// busy loop to every CPU Linux brought online. Each boot must show all its CPUs online, each loop on its own CPU
/// (the scheduler's own word: /proc/self/stat's processor field), and busy time gained by every CPU in /proc/stat:
/// the application processors came up through the local APICs and took their share of the work. A boot that hangs is
/// looked at in L1 before it is killed (lguest's threads, each vCPU's KVM exits and guest RIPs: BED-SMP-HUNG lines in
/// the failure) and the other boot still runs.
/// </summary>
[Category("Linux")]
public partial class SmpInBedTests
{
    /// <summary>What one boot may take in L1 before smp-l1.sh calls it hung: a 4-vCPU boot takes 15-40 s there on a busy host.</summary>
    private const int BootGuardSeconds = 240;

    private NestedBedRun _run = null!;

    [GeneratedRegex(@"^GUEST-SMP online=(\S+) count=(\d+) possible=(\S+)$", RegexOptions.Multiline)]
    private static partial Regex Summary();

    [GeneratedRegex(@"^GUEST-SMP-WORKER (\d+) ran-on=(\d+)$", RegexOptions.Multiline)]
    private static partial Regex Worker();

    [GeneratedRegex(@"^GUEST-SMP-CPU (\d+) busy-ticks=(-?\d+)$", RegexOptions.Multiline)]
    private static partial Regex CpuTicks();

    [GeneratedRegex(@"^BED-SMP-BOOT (\d+) exit (\S+) seconds (\d+)$", RegexOptions.Multiline)]
    private static partial Regex BootEnd();

    [OneTimeSetUp]
    public void BootTwice()
    {
        NestedBed bed = NestedBed.OpenOrIgnore();
        LauncherBinary launcher = LauncherBinary.Current;
        TestContext.Out.WriteLine($"launcher: {launcher.Description}");
        // L1's boot, two guest boots and their guards: the bed's own timeout only catches a stuck L1.
        TimeSpan timeout = NestedBed.DefaultTimeout + TimeSpan.FromSeconds(2 * BootGuardSeconds);
        _run = bed.Run($"LGUEST={NestedBed.Quote(launcher.ShellCommand)} SMP_GUARD={BootGuardSeconds} Lguest.Tests/Guests/smp-l1.sh 2 4",
            timeout, l1Cpus: 2);
        TestContext.Out.WriteLine(string.Join('\n', BootEnd().Matches(_run.Console).Select(m => m.Value)));
    }

    [TestCase(2)]
    [TestCase(4)]
    public void Every_CPU_comes_online_and_runs_its_own_share_of_the_work(int cpus)
    {
        // Each boot's console ends at its BED-SMP-BOOT line; the first boot's starts the console.
        Match[] ends = BootEnd().Matches(_run.Console).ToArray();
        Match? end = ends.FirstOrDefault(m => Number(m.Groups[1]) == cpus);
        Assert.That(end, Is.Not.Null, $"no end of the --cpus={cpus} boot\n{_run}");
        int from = cpus == 2 ? 0 : ends.FirstOrDefault(m => Number(m.Groups[1]) == 2)?.Index ?? 0;
        string boot = _run.Console[from..(end!.Index + end.Length)];
        int[] all = Enumerable.Range(0, cpus).ToArray();
        TestContext.Out.WriteLine(string.Join('\n', boot.Split('\n').Where(line => line.StartsWith("GUEST-SMP", StringComparison.Ordinal) || line.StartsWith("BED-SMP", StringComparison.Ordinal))));

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
        Assert.That(end.Groups[2].Value, Is.EqualTo("0"), $"lguest --cpus={cpus} exited 0\n{boot}");
    }

    private static int Number(Group group) => int.Parse(group.Value, CultureInfo.InvariantCulture);
}
