using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Cli;

/// <summary>
/// <c>lguest -v ... &gt; log 2&gt;&amp;1</c>, as every bed script runs it: the guest's console output and lguest's own
/// lines share one file, and every line of both is in it, whole (a FileStream on fd 1 wrote with pwrite at its own
/// offset, and the two overwrote each other), up to the log's last line (written out when the run ends).
/// </summary>
[Category("Kvm")]
public class ConsoleLogFileTests
{
    [Test]
    public void The_guests_console_and_lguests_own_lines_in_one_file_are_all_there()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using var folder = new TemporaryFolder();
        string log = Path.Combine(folder.Path, "run.log");
        // sh execs lguest with stdout on the file and stderr on the same open file, as "> log 2>&1" does.
        var (code, _, stderr) = LguestProcess.RunWrapped(["sh", "-c", $"exec \"$@\" > '{log}' 2>&1", "sh"],
            "-v", "--rng", "--no-reboot", "64", GuestPrograms.Probe, "probe.only=virtio-rng");
        Assert.That(code, Is.Zero, stderr);
        string[] lines = File.ReadAllLines(log);
        string all = string.Join('\n', lines);
        Assert.Multiple(() =>
        {
            // The guest's lines (the UART's), lguest's (stderr, each whole from its timestamp), in the order written.
            Assert.That(lines, Has.Some.StartsWith("PROBE virtio-rng ok"), all);
            Assert.That(lines, Has.Some.StartsWith("PROBE done 1/1"), all);
            foreach (string id in new[] { "Lguest.Cli[9001] the kernel arguments", "Lguest.Machine.Launcher[2100] booting 64 MiB",
                "Lguest.Machine.Launcher[2101] first guest instruction", "Lguest.Machine.Launcher[2103] guest stopped: PowerOff" })
                Assert.That(lines.Count(l => Regex.IsMatch(l, @"^\d\d:\d\d:\d\d\.\d{3} info: " + Regex.Escape(id))), Is.EqualTo(1), $"{id}\n{all}");
            Assert.That(lines.Last(), Is.EqualTo("lguest: the guest powered off"), all);
            Assert.That(Array.FindIndex(lines, l => l.StartsWith("PROBE done", StringComparison.Ordinal)),
                Is.LessThan(Array.FindIndex(lines, l => l.Contains("[2103] guest stopped", StringComparison.Ordinal))), "the guest's last line before the run's end\n" + all);
        });
    }
}
