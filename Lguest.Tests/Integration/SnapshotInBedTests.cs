using System.Globalization;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// Snapshot and restore of Linux in the nested bed, in one bed run (<c>Lguest.Tests/Guests/snapshot-l1.sh</c>): the
/// guest image's shell with a counter and a file on tmpfs is snapshotted (<c>--snapshot-to</c>, SIGUSR1), lguest is
/// killed with SIGKILL, and a new process restores it (<c>--restore</c>): the counter goes on from where it stood, the
/// file is intact, a typed command runs. Then five clones run side by side from the one snapshot, each writing its own
/// disk copy, and damaged snapshots are refused with one line and exit 3 (those that get past the container's checks:
/// the others are RestoreCommandTests' rows). About 38 minutes at a host load of 60-75 (13 % of a core for L1), most
/// of it the five clones.
/// </summary>
[Category("Linux")]
public partial class SnapshotInBedTests
{
    [GeneratedRegex(@"^BED-SNAP-COUNT before (\d+) after (\d+)$", RegexOptions.Multiline)]
    private static partial Regex Count();

    [GeneratedRegex(@"^BED-SNAP-MD5 before ([0-9a-f]{32}) after ([0-9a-f]{32})$", RegexOptions.Multiline)]
    private static partial Regex Md5();

    [GeneratedRegex(@"^BED-SNAP-CLONE (\d) exit (\d+) disk (\S*) rss-kib (\S+)$", RegexOptions.Multiline)]
    private static partial Regex Clone();

    [GeneratedRegex(@"^BED-SNAP-BAD (\S+) exit (\d+) lines (\d+) (.*)$", RegexOptions.Multiline)]
    private static partial Regex Bad();

    [GeneratedRegex(@"^BED-SNAP-(COLD|RESTORE|TAKEN) .*$", RegexOptions.Multiline)]
    private static partial Regex Figures();

    [Test]
    public void A_restored_guest_goes_on_where_it_stood_five_clones_run_side_by_side_and_bad_snapshots_are_refused()
    {
        NestedBed bed = NestedBed.OpenOrIgnore();
        LauncherBinary launcher = LauncherBinary.Current;
        TestContext.Out.WriteLine($"launcher: {launcher.Description}");
        NestedBedRun run = bed.Run($"LGUEST={NestedBed.Quote(launcher.ShellCommand)} Lguest.Tests/Guests/snapshot-l1.sh", TimeSpan.FromMinutes(45));
        string console = run.Console.Replace("\r", "", StringComparison.Ordinal);

        Assert.That(console, Does.Contain("BED-SNAP-DONE"), run.ToString());
        Match count = Count().Match(console);
        Match md5 = Md5().Match(console);
        MatchCollection clones = Clone().Matches(console);
        var bad = Bad().Matches(console).ToDictionary(m => m.Groups[1].Value);
        Assert.Multiple(() =>
        {
            Assert.That(count.Success, Is.True, run.ToString());
            int before = int.Parse(count.Groups[1].Value, CultureInfo.InvariantCulture);
            int after = int.Parse(count.Groups[2].Value, CultureInfo.InvariantCulture);
            // The counter printed `before` just ahead of the pause; the restored guest's next line is the following
            // number (two if a line was in flight), not 1 (a reboot) nor what the killed process reached later.
            Assert.That(after, Is.InRange(before, before + 2), "the counter after restore goes on from the snapshot\n" + run);
            Assert.That(md5.Success && md5.Groups[1].Value == md5.Groups[2].Value, Is.True, "the tmpfs file's MD5 before and after\n" + run);
            Assert.That(clones.Select(m => (m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value)),
                Is.EqualTo(Enumerable.Range(1, 5).Select(i => ($"{i}", "0", $"clone-{i}"))), "each clone powered off and wrote its own disk copy\n" + run);
            foreach (string name in new[] { "truncated-memory", "bitflip-memory", "other-devices" })
            {
                Assert.That(bad.TryGetValue(name, out Match? m), Is.True, $"{name}\n{run}");
                if (m is null)
                    continue;
                Assert.That((m.Groups[2].Value, m.Groups[3].Value), Is.EqualTo(("3", "1")), $"{name}: exit 3 with one line: {m.Groups[4].Value}");
                Assert.That(m.Groups[4].Value, Does.StartWith("lguest: ").And.Not.Contain("   at "), name);
            }
            Assert.That(bad.GetValueOrDefault("bitflip-memory")?.Groups[4].Value, Does.Contain("checksum").Or.Contain("only zeros"));
        });
        TestContext.Progress.WriteLine("snapshot (Linux in the bed): " + string.Join("; ", Figures().Matches(console).Select(m => m.Value))
            + "; " + string.Join("; ", clones.Select(m => $"clone {m.Groups[1].Value} RSS {m.Groups[4].Value} KiB")));
    }
}
