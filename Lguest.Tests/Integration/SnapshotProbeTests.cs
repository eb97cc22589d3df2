using System.Globalization;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// Snapshot and restore through the command line on this host's KVM, with the probe guest writing numbered sectors
/// to its disk and flushing them (<c>probe.only=blk-durability</c>): <c>--snapshot-to</c> and SIGUSR1 take a snapshot
/// while requests are in flight and the guest goes on, SIGUSR2 another after which it stays paused, SIGKILL ends the
/// process, and <c>lguest --restore</c> in a new process goes on writing from the sector it stood at, its disk intact. The Linux proofs are SnapshotInBedTests'.
/// </summary>
[Category("Kvm")]
public partial class SnapshotProbeTests
{
    private const int SigUsr1 = 10;

    private const int SigUsr2 = 12;

    [GeneratedRegex(@"^PROBE flushed (\d+)$")]
    private static partial Regex Flushed();

    private static int LastFlushed(IEnumerable<string> lines) =>
        lines.Select(l => Flushed().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).LastOrDefault();

    private static int FirstFlushed(IEnumerable<string> lines) =>
        lines.Select(l => Flushed().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).FirstOrDefault();

    [Test]
    public void A_probe_writing_its_disk_is_snapshotted_killed_and_restored_in_a_new_process_where_it_stood()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using var folder = new TemporaryFolder();
        string image = Path.Combine(folder.Path, "disk.img"), copy = Path.Combine(folder.Path, "copy.img"), snap = Path.Combine(folder.Path, "snap");
        File.WriteAllBytes(image, new byte[4 << 20]);
        int beforeSignal, atSnapshot;
        string line, lastLine;
        using (var lguest = LguestProcess.Start("--block=" + image, "--snapshot-to=" + snap, "--no-reboot", "64", GuestPrograms.Probe,
            "probe.only=blk-durability", "probe.durability-batch=4"))
        {
            Assert.That(lguest.WaitForLine(l => LastFlushed([l]) >= 40), Is.True, lguest.Stderr);
            // SIGUSR1: a snapshot while requests are in flight, and the guest goes on writing.
            lguest.Signal(SigUsr1);
            string resumed = WaitForSnapshotLine(lguest, 1);
            Assert.That(resumed, Does.StartWith("lguest: snapshot written to " + snap).And.Not.Contains("stays paused"), lguest.Stderr);
            int afterFirst = LastFlushed(lguest.Stdout);
            Assert.That(lguest.WaitForLine(l => LastFlushed([l]) >= afterFirst + 8), Is.True, $"the guest writes on after SIGUSR1's snapshot\n{lguest.Stderr}");
            // SIGUSR2: another, which replaces the first, and the guest stays paused: the output read to the end once
            // lguest is killed is the output up to the pause (the pause writes it out before it answers). Read while
            // the guest ran on, as the line on stderr came, its last report could still be in this test's reader.
            beforeSignal = LastFlushed(lguest.Stdout);
            lguest.Signal(SigUsr2);
            line = WaitForSnapshotLine(lguest, 2);
            Assert.That(line, Does.StartWith("lguest: snapshot written to " + snap).And.EndWith("the guest stays paused"), lguest.Stderr);
            lguest.Kill();
            atSnapshot = LastFlushed(lguest.Stdout);
            lastLine = lguest.Stdout.Count > 0 ? lguest.Stdout[^1] : "";
        }
        // The disk once the first process is gone (it holds the image's lock), as the snapshot knows it: the guest stayed
        // paused. The lock can outlive the killed process by a moment: its io_uring's requests hold the file until the
        // kernel tears the ring down after the exit.
        CopyOnceUnlocked(image, copy);

        using (var restored = LguestProcess.Start("--restore=" + snap, "--block=" + copy, "--no-reboot"))
        {
            Assert.That(restored.WaitForLine(l => LastFlushed([l]) >= atSnapshot + 40), Is.True,
                $"the restored probe writes on\n{restored.Stderr}\n{string.Join('\n', restored.Stdout)}");
            int first = FirstFlushed(restored.Stdout);
            // A line the guest was writing when it paused is split between the two processes ("PR", then "OBE flushed
            // 128"): nothing of it is lost, and its halves joined are the first report after the snapshot.
            if (!Flushed().IsMatch(lastLine) && restored.Stdout.Count > 0 && Flushed().Match(lastLine + restored.Stdout[0]) is { Success: true } joined)
                first = int.Parse(joined.Groups[1].Value, CultureInfo.InvariantCulture);
            restored.Kill();
            // Its first report goes on from where the guest was paused, between the last report before the signal and
            // the last one before the pause (plus the next batch of 4): not from 1 as after a reboot.
            Assert.That(first, Is.InRange(beforeSignal + 1, atSnapshot + 4),
                $"first flushed after restore {first}; last before the signal {beforeSignal}, before the pause {atSnapshot}: {line}");
            TestContext.Progress.WriteLine($"snapshot (probe on this host's KVM): {line}; restored, first flushed {first} ({beforeSignal} before the signal)");
        }
    }

    // The count-th line of stderr naming a snapshot, waited for up to two minutes.
    private static string WaitForSnapshotLine(LguestProcess lguest, int count)
    {
        string[] Lines() => [.. lguest.Stderr.Split('\n').Where(l => l.Contains("snapshot", StringComparison.Ordinal))];
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (Lines().Length < count && waited.Elapsed < TimeSpan.FromMinutes(2) && !lguest.HasExited)
            Thread.Sleep(50);
        string[] lines = Lines();
        return lines.Length >= count ? lines[count - 1].TrimEnd('\r') : "";
    }

    private static void CopyOnceUnlocked(string source, string destination)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                File.Copy(source, destination, overwrite: true);
                return;
            }
            catch (IOException) when (waited.Elapsed < TimeSpan.FromSeconds(30))
            {
                Thread.Sleep(50);
            }
        }
    }
}
