using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Lguest.Devices;
using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// A real distribution under lguest in the nested bed: Debian 12 from debootstrap (systemd, the cloud kernel
/// with its own initramfs, root on virtio-blk; <c>Lguest.Tests/Guests/debian-image.sh</c>). One bed run
/// (<c>debian-l1.sh</c>) boots it once to multi-user.target, where it writes, deletes and fstrims 64 MiB, which
/// must give the space back to the host file, and powers off; then its root file system must be clean. One boot,
/// not one per check: a systemd boot in L2 costs minutes of CI under TCG.
/// </summary>
[Category("Linux")]
public partial class DebianGuestInBedTests
{
    private const int FstrimMib = 64;

    [Test]
    public void Debian_boots_to_multi_user_with_no_failed_unit_powers_off_clean_and_fstrim_shrinks_the_image()
    {
        NestedBed bed = NestedBed.OpenOrIgnore();
        string image = BuildImage(bed);
        LauncherBinary launcher = LauncherBinary.Current;
        TestContext.Out.WriteLine($"launcher: {launcher.Description}");
        // One systemd boot of a real distribution in L2: minutes under TCG on a busy host.
        NestedBedRun run = bed.Run($"{image} DEBIAN_FSTRIM_MIB={FstrimMib} LGUEST={NestedBed.Quote(launcher.ShellCommand)} Lguest.Tests/Guests/debian-l1.sh",
            TimeSpan.FromMinutes(25));
        string console = run.Console.Replace("\r", "", StringComparison.Ordinal);

        MatchCollection boots = Boot().Matches(console);
        Match allocated = Allocated().Match(console);
        Match trimmed = Trimmed().Match(console);
        Assert.Multiple(() =>
        {
            Assert.That(Ready().Matches(console).Select(m => m.Groups[1].Value), Is.EqualTo(new[] { "0" }),
                "GUEST-DEBIAN-READY <failed units>: the boot reached multi-user.target with no failed unit\n" + run);
            // vda (root=/dev/vda) is lguest's virtio-blk: the limits the guest read from its configuration space.
            Assert.That(console, Does.Contain($"GUEST-DISCARD {(long)BlockRequestQueue.MaxDiscardSectors * 512} {(long)BlockRequestQueue.MaxWriteZeroesSectors * 512}"),
                run.ToString());
            Assert.That(Regex.Count(console, "GUEST-SCENARIO-EXIT 0"), Is.EqualTo(1), run.ToString());
            Assert.That(boots.Select(m => m.Groups[1].Value), Is.EqualTo(new[] { "0" }), "lguest's exit status after the power-off\n" + run);
            Assert.That(console, Does.Contain("BED-DEBIAN-FSCK 0"), "e2fsck -fn of the root file system after power-off\n" + run);
            Assert.That(allocated.Success && trimmed.Success, Is.True, run.ToString());
        });
        long before = long.Parse(allocated.Groups[1].Value, CultureInfo.InvariantCulture);
        long after = long.Parse(allocated.Groups[2].Value, CultureInfo.InvariantCulture);
        long trimmedBytes = long.Parse(trimmed.Groups[1].Value, CultureInfo.InvariantCulture);
        // Without DISCARD the file would have grown by the 64 MiB written (fsync'd before the delete), on top of what
        // the boot itself writes (a few MiB: journal, logs).
        Assert.That(after - before, Is.LessThan(FstrimMib / 2 * (1L << 20)), $"the image grew from {before} to {after} bytes allocated: fstrim gave nothing back\n{run}");
        Assert.That(trimmedBytes, Is.GreaterThanOrEqualTo(FstrimMib * (1L << 20)), run.ToString());
        TestContext.Progress.WriteLine(
            $"debian: boot {string.Join(", ", boots.Select(m => m.Groups[2].Value + " s"))} (launch to power-off, emulated time); image allocated {before >> 20} MiB -> {after >> 20} MiB after writing {FstrimMib} MiB and fstrim ({trimmedBytes >> 20} MiB trimmed)");
    }

    // debian-image.sh on the host (root: debootstrap, chroot), cached; its assignments go to the bed's command.
    private static string BuildImage(NestedBed bed)
    {
        var psi = new ProcessStartInfo("bash", Path.Combine(bed.GuestsDirectory, "debian-image.sh"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        Task<string> errors = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            Assert.Ignore($"the Debian image could not be built here: {errors.Result.Trim().Split('\n')[^1]}");
        return string.Join(' ', output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("LGUEST_DEBIAN_", StringComparison.Ordinal)));
    }

    [GeneratedRegex(@"GUEST-DEBIAN-READY (\d+)")]
    private static partial Regex Ready();

    [GeneratedRegex(@"BED-DEBIAN-BOOT (\d+) ([\d.]+)")]
    private static partial Regex Boot();

    [GeneratedRegex(@"BED-DEBIAN-ALLOCATED (\d+) (\d+)")]
    private static partial Regex Allocated();

    [GeneratedRegex(@"GUEST-FSTRIM (\d+)")]
    private static partial Regex Trimmed();
}
