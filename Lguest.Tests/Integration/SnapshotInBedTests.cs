using System.Globalization;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// Snapshot and restore of Linux in the nested bed, in one bed run (<c>Lguest.Tests/Guests/snapshot-l1.sh</c>, one
/// cold boot): the guest image's shell with a counter, a file on tmpfs, a dd conv=fsync writer on its ext4 disk, a
/// network card, a vsock echo server and a file held open on a virtio-fs share is snapshotted while it writes
/// (<c>--snapshot-to</c>, SIGUSR2: it stays paused), lguest is killed with SIGKILL, and a new process restores it
/// (<c>--restore</c>): the counter and the writer go on from where they stood, the file is intact, a typed command
/// runs, the host answers a ping, L1 gets its echo over vsock, the held file and the share work both ways, every chunk
/// written is intact and the disk checks clean (e2fsck). Then five clones run side by side from the one snapshot, each
/// writing a file on its own disk copy (each clean), and damaged snapshots are refused with one line and exit 3 (those
/// that get past the container's checks: the others are RestoreCommandTests' rows).
/// </summary>
[Category("Linux")]
public partial class SnapshotInBedTests
{
    [GeneratedRegex(@"^BED-SNAP-COUNT before (\d+) after (\d+)$", RegexOptions.Multiline)]
    private static partial Regex Count();

    [GeneratedRegex(@"^BED-SNAP-MD5 before ([0-9a-f]{32}) after ([0-9a-f]{32})$", RegexOptions.Multiline)]
    private static partial Regex Md5();

    [GeneratedRegex(@"^BED-SNAP-CLONE (\d) exit (\d+) disk (\S*) fsck (\d+) rss-kib (\S+)$", RegexOptions.Multiline)]
    private static partial Regex Clone();

    [GeneratedRegex(@"^BED-SNAP-DD before (\d+) after (\d+) stopped (\d+)$", RegexOptions.Multiline)]
    private static partial Regex Writer();

    [GeneratedRegex(@"^BED-SNAP-DD-CHECK files (\d+) bad (\d+)$", RegexOptions.Multiline)]
    private static partial Regex WriterCheck();

    [GeneratedRegex(@"^BED-SNAP-FSCK exit (\d+)", RegexOptions.Multiline)]
    private static partial Regex Fsck();

    [GeneratedRegex(@"^BED-SNAP-PING before (\S+) after (\S+)$", RegexOptions.Multiline)]
    private static partial Regex Ping();

    [GeneratedRegex(@"^BED-SNAP-VSOCK (.*)$", RegexOptions.Multiline)]
    private static partial Regex Vsock();

    [GeneratedRegex(@"^BED-SNAP-FS held (\S*) read (\S*) wrote (\S*)$", RegexOptions.Multiline)]
    private static partial Regex Share();

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
        Match writer = Writer().Match(console), writerCheck = WriterCheck().Match(console), fsck = Fsck().Match(console);
        Match ping = Ping().Match(console), vsock = Vsock().Match(console), share = Share().Match(console);
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
            Assert.That(writer.Success, Is.True, "the disk writer's line\n" + run);
            if (writer.Success)
            {
                int last = int.Parse(writer.Groups[1].Value, CultureInfo.InvariantCulture);
                int next = int.Parse(writer.Groups[2].Value, CultureInfo.InvariantCulture);
                int stopped = int.Parse(writer.Groups[3].Value, CultureInfo.InvariantCulture);
                // Paused after chunk `last` was reported, or while `last + 1` was being written: the restored writer's
                // next report is `last + 1` (`last + 2` if a line was in flight), not a restart from 1.
                Assert.That(next, Is.InRange(last, last + 2), "the dd conv=fsync writer goes on after restore\n" + run);
                Assert.That(stopped, Is.GreaterThan(next), "it went on writing\n" + run);
                // Chunk n is file c<n mod 64>: every file the writer made holds the 64 KiB its first line says.
                Assert.That((writerCheck.Groups[1].Value, writerCheck.Groups[2].Value),
                    Is.EqualTo(($"{Math.Min(stopped, 64)}", "0")), "every chunk file holds what it says\n" + run);
            }
            Assert.That(fsck.Groups[1].Value, Is.EqualTo("0"), "e2fsck -f -n of the restored guest's disk\n" + run);
            Assert.That((ping.Groups[1].Value, ping.Groups[2].Value), Is.EqualTo(("ok", "ok")), "the host answers a ping before and after\n" + run);
            Assert.That(vsock.Groups[1].Value, Is.EqualTo("echo after restore"), "an echo over vsock after restore\n" + run);
            Assert.That((share.Groups[1].Value, share.Groups[2].Value, share.Groups[3].Value),
                Is.EqualTo(("one,two", "written_by_L1_after_the_restore", "after")), "the share: the held file, and a file each way\n" + run);
            Assert.That(clones.Select(m => (m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value, m.Groups[4].Value)),
                Is.EqualTo(Enumerable.Range(1, 5).Select(i => ($"{i}", "0", $"clone-{i}", "0"))), "each clone powered off and wrote its own disk copy, clean\n" + run);
            foreach (string name in new[] { "truncated-memory", "bitflip-memory", "other-devices" })
            {
                Assert.That(bad.TryGetValue(name, out Match? m), Is.True, $"{name}\n{run}");
                if (m is null)
                    continue;
                Assert.That((m.Groups[2].Value, m.Groups[3].Value), Is.EqualTo(("3", "1")), $"{name}: exit 3 with one line: {m.Groups[4].Value}");
                Assert.That(m.Groups[4].Value, Does.StartWith("lguest: ").And.Not.Contain("   at "), name);
            }
            Assert.That(bad.GetValueOrDefault("bitflip-memory")?.Groups[4].Value, Does.Contain("does not match its checksum"));
        });
        TestContext.Progress.WriteLine("snapshot (Linux in the bed): " + string.Join("; ", Figures().Matches(console).Select(m => m.Value))
            + "; " + string.Join("; ", clones.Select(m => $"clone {m.Groups[1].Value} RSS {m.Groups[5].Value} KiB")));
    }
}
