using System.Globalization;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// Snapshot and restore through the command line on this host's KVM, with the probe guest writing numbered sectors
/// to its disk and flushing them (<c>probe.only=blk-durability</c>): <c>--snapshot-to</c> and SIGUSR1 take a snapshot
/// while requests are in flight, SIGKILL ends the process, and <c>lguest --restore</c> in a new process goes on
/// writing from the sector it stood at, its disk intact. The Linux proofs are SnapshotInBedTests'.
/// </summary>
[Category("Kvm")]
public partial class SnapshotProbeTests
{
    private const int SigUsr1 = 10;

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
        string line;
        using (var lguest = LguestProcess.Start("--block=" + image, "--snapshot-to=" + snap, "--no-reboot", "64", GuestPrograms.Probe,
            "probe.only=blk-durability", "probe.durability-batch=4"))
        {
            Assert.That(lguest.WaitForLine(l => LastFlushed([l]) >= 40), Is.True, lguest.Stderr);
            beforeSignal = LastFlushed(lguest.Stdout);
            lguest.Signal(SigUsr1);
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (!lguest.Stderr.Contains("snapshot", StringComparison.Ordinal) && waited.Elapsed < TimeSpan.FromMinutes(2) && !lguest.HasExited)
                Thread.Sleep(50);
            line = lguest.Stderr.Split('\n').FirstOrDefault(l => l.Contains("snapshot", StringComparison.Ordinal)) ?? "";
            Assert.That(line, Does.StartWith("lguest: snapshot written to " + snap), lguest.Stderr);
            atSnapshot = LastFlushed(lguest.Stdout);
            lguest.Kill();
        }
        // The disk once the first process is gone (it holds the image's lock): it holds the sectors flushed after the
        // snapshot too, which the restored guest writes again with the same contents. The lock can outlive the killed
        // process by a moment: its io_uring's requests hold the file until the kernel tears the ring down after the exit.
        CopyOnceUnlocked(image, copy);

        using (var restored = LguestProcess.Start("--restore=" + snap, "--block=" + copy, "--no-reboot"))
        {
            Assert.That(restored.WaitForLine(l => LastFlushed([l]) >= atSnapshot + 40), Is.True,
                $"the restored probe writes on\n{restored.Stderr}\n{string.Join('\n', restored.Stdout)}");
            int first = FirstFlushed(restored.Stdout);
            restored.Kill();
            // Its first report goes on from where the guest was paused, between the last report before the signal and
            // the last one seen once the snapshot was written (plus the next batch of 4): not from 1 as after a reboot.
            Assert.That(first, Is.InRange(beforeSignal + 1, atSnapshot + 4),
                $"first flushed after restore {first}; last before the signal {beforeSignal}, once the snapshot was written {atSnapshot}: {line}");
            TestContext.Progress.WriteLine($"snapshot (probe on this host's KVM): {line}; restored, first flushed {first} ({beforeSignal} before the signal)");
        }
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
