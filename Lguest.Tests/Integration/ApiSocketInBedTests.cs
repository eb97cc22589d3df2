using System.Globalization;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// Firecracker's API on lguest's socket, on a real guest in the nested bed, in one bed run (Lguest.Tests/Guests/api-l1.sh,
/// guest scenario <c>api</c>): Firecracker's getting-started curl calls boot the Debian cloud kernel; a 10 s pause
/// stops the guest's ticks and console and costs lguest no CPU, and the ticks continue after the resume; 20 pauses
/// and resumes under disk and network load leave the data intact; the guest's kernel logs no lockup or stall.
/// </summary>
[Category("Linux")]
public partial class ApiSocketInBedTests
{
    /// <summary>
    /// The most of lguest's CPU time (clock ticks, 10 ms each) allowed in the 10 s pause: what an idle process spends
    /// on its timers (the runtime's, Kestrel's once a second). A guest left running spends thousands.
    /// </summary>
    private const int MaxPausedCpuTicks = 20;

    private NestedBedRun _run = null!;
    private string _console = "";

    [OneTimeSetUp]
    public void RunTheSequence()
    {
        NestedBed bed = NestedBed.OpenOrIgnore();
        LauncherBinary launcher = LauncherBinary.Current;
        TestContext.Out.WriteLine($"launcher: {launcher.Description}");
        _run = bed.Run($"LGUEST={NestedBed.Quote(launcher.ShellCommand)} Lguest.Tests/Guests/api-l1.sh", TimeSpan.FromMinutes(30));
        _console = _run.Console.Replace("\r", "", StringComparison.Ordinal);
        TestContext.Out.WriteLine(string.Join('\n', _console.Split('\n').Where(l => l.StartsWith("BED-API", StringComparison.Ordinal))));
    }

    [Test]
    public void Firecracker_s_getting_started_calls_boot_the_guest_and_the_wrong_state_is_refused()
    {
        Dictionary<string, string> calls = Call().Matches(_console).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.Multiple(() =>
        {
            Assert.That(calls.GetValueOrDefault("pause-before-start"), Is.EqualTo("400"), _run.ToString());
            foreach (string call in new[] { "boot-source", "drive", "network-interface", "start" })
                Assert.That(calls.GetValueOrDefault(call), Is.EqualTo("204"), call + "\n" + _run);
            Assert.That(calls.GetValueOrDefault("boot-source-after-start"), Is.EqualTo("400"), _run.ToString());
            Assert.That(calls.GetValueOrDefault("info"), Is.EqualTo("200"), _run.ToString());
            Assert.That(_console, Does.Contain("GUEST-INIT-READY"), _run.ToString());
            Assert.That(_console, Does.Contain("GUEST-SCENARIO-EXIT 0"), _run.ToString());
            Assert.That(_console, Does.Contain("BED-API-EXIT 0 socket-removed yes"), "lguest exits 0 after the guest's power-off and removes its socket\n" + _run);
        });
    }

    [Test]
    public void A_ten_second_pause_stops_the_guest_costs_no_cpu_and_the_guest_continues_without_a_lockup()
    {
        Match paused = Paused().Match(_console);
        Match resumed = Resumed().Match(_console);
        Match lockups = Lockups().Match(_console);
        Assert.That(paused.Success && resumed.Success && lockups.Success, Is.True, _run.ToString());
        int cpuTicks = Number(paused.Groups[1]), clockTick = Number(paused.Groups[2]);
        string threads = Threads().Match(_console).Groups[1].Value.Trim();
        TestContext.Progress.WriteLine($"api: lguest's CPU time in a 10 s pause {cpuTicks * 1000 / clockTick} ms [{threads}]; console bytes {paused.Groups[3].Value}, guest ticks {paused.Groups[4].Value}");
        Assert.Multiple(() =>
        {
            Assert.That(Number(paused.Groups[4]), Is.Zero, "no guest tick while paused\n" + _run);
            Assert.That(Number(paused.Groups[3]), Is.Zero, "nothing on the console while paused\n" + _run);
            Assert.That(cpuTicks, Is.LessThanOrEqualTo(MaxPausedCpuTicks), $"lguest's user+system clock ticks in the 10 s pause (by thread: {threads})\n" + _run);
            Assert.That(_console, Does.Contain("BED-API-STATE Paused"), _run.ToString());
            Assert.That(Number(resumed.Groups[1]), Is.GreaterThanOrEqualTo(3), "the ticks continue after the resume\n" + _run);
            Assert.That(Number(lockups.Groups[1]), Is.Zero, "the guest's kernel log after the pauses: " + lockups.Value);
        });
    }

    [Test]
    public void Twenty_pauses_under_disk_and_network_load_leave_the_data_intact()
    {
        Match cycles = Cycles().Match(_console);
        Match disk = Disk().Match(_console);
        Match sent = Sent().Match(_console);
        Match received = Received().Match(_console);
        Assert.That(cycles.Success && disk.Success && sent.Success && received.Success, Is.True, _run.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(cycles.Groups[1].Value, Is.EqualTo("20"), "every PATCH /vm answered 204\n" + _run);
            Assert.That(disk.Groups[2].Value, Is.EqualTo(disk.Groups[1].Value), "the disk reads back what the guest wrote\n" + _run);
            Assert.That((received.Groups[1].Value, received.Groups[2].Value), Is.EqualTo((sent.Groups[1].Value, sent.Groups[2].Value)),
                "the host received what the guest sent\n" + _run);
            Assert.That(sent.Groups[1].Value, Is.EqualTo(disk.Groups[1].Value), "the same 8 MiB to the disk and the host");
        });
    }

    private static int Number(Group group) => int.Parse(group.Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"BED-API-CALL (\S+) (\S+)", RegexOptions.Multiline)]
    private static partial Regex Call();

    [GeneratedRegex(@"BED-API-PAUSED cpu-ticks (\d+) clk-tck (\d+) console-bytes (-?\d+) guest-ticks (-?\d+)", RegexOptions.Multiline)]
    private static partial Regex Paused();

    [GeneratedRegex(@"BED-API-PAUSED-THREADS(.*)$", RegexOptions.Multiline)]
    private static partial Regex Threads();

    [GeneratedRegex(@"BED-API-RESUMED guest-ticks (-?\d+)", RegexOptions.Multiline)]
    private static partial Regex Resumed();

    [GeneratedRegex(@"GUEST-API-LOCKUPS (\d+).*$", RegexOptions.Multiline)]
    private static partial Regex Lockups();

    [GeneratedRegex(@"BED-API-CYCLES (\d+) 20", RegexOptions.Multiline)]
    private static partial Regex Cycles();

    [GeneratedRegex(@"GUEST-API-DISK ([0-9a-f]{32}) ([0-9a-f]{32})")]
    private static partial Regex Disk();

    [GeneratedRegex(@"GUEST-API-NET-SENT ([0-9a-f]{32}) (\d+)")]
    private static partial Regex Sent();

    [GeneratedRegex(@"BED-API-NET-RECEIVED ([0-9a-f]{32}) (\d+)", RegexOptions.Multiline)]
    private static partial Regex Received();
}
