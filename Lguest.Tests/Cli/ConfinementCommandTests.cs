using Lguest.Tests.Support;

namespace Lguest.Tests.Cli;

/// <summary>
/// --chroot and --username as the seed did them: after every host resource is open and before the guest runs,
/// chroot then chdir("/"), then the user's groups, gid and uid; checked from outside on the running launcher.
/// </summary>
public class ConfinementCommandTests
{
    [Test]
    [Category("Kvm")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void The_running_launcher_has_the_user_s_ids_and_the_new_root()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        string probe = GuestPrograms.Probe;
        DirectoryInfo root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "lguest-chroot-" + Guid.NewGuid().ToString("N")),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        try
        {
            // The probe's virtio-console test writes a line, then waits up to a minute for input that never comes
            // (on KVM the keyboard goes to COM1): the launcher is alive and confined meanwhile.
            using var lguest = LguestProcess.Start("--username=nobody", "--chroot=" + root.FullName, "--no-reboot", "64", probe,
                "probe.only=virtio-console", "probe.console-wait=60000");
            Assert.That(lguest.WaitForLine(l => l.Contains("hello from the probe on virtio-console", StringComparison.Ordinal)), Is.True,
                $"{string.Join('\n', lguest.Stdout)}\n{lguest.Stderr}");

            string[] status = File.ReadAllLines($"/proc/{lguest.Id}/status");
            string rootLink = new FileInfo($"/proc/{lguest.Id}/root").LinkTarget!;
            string cwdLink = new FileInfo($"/proc/{lguest.Id}/cwd").LinkTarget!;
            int code = lguest.Terminate();

            Assert.Multiple(() =>
            {
                Assert.That(Field(status, "Uid"), Is.EqualTo("65534\t65534\t65534\t65534"), "real, effective, saved and filesystem uid: nobody");
                Assert.That(Field(status, "Gid"), Is.EqualTo("65534\t65534\t65534\t65534"), "gids: nogroup, nobody's primary group");
                Assert.That(Field(status, "Groups"), Is.EqualTo("65534"), "nobody's groups from the host's group database");
                Assert.That(rootLink, Is.EqualTo(root.FullName), "the root is the chroot directory");
                Assert.That(cwdLink, Is.EqualTo(root.FullName), "and the working directory its top, after chdir(\"/\")");
                Assert.That(code, Is.EqualTo(128 + 15), "SIGTERM stops it as before: the guest ran on confined");
            });
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Test]
    [Category("Kvm")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_confined_launcher_still_reboots_its_guest_from_what_it_opened_before()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        string guest = GuestPrograms.Pvh("reset", "\tmovw $0xcf9, %dx\n\tmovb $6, %al\n\toutb %al, %dx\n1:\tjmp 1b\n");
        DirectoryInfo root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "lguest-chroot-" + Guid.NewGuid().ToString("N")),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        try
        {
            using var lguest = LguestProcess.Start("--verbose", "--username=nobody", "--chroot=" + root.FullName, "64", guest);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (Count(lguest.Stderr, "booting ") < 4 && !lguest.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2))
                Thread.Sleep(50);
            int code = lguest.Terminate();
            Assert.That(Count(lguest.Stderr, "booting "), Is.GreaterThanOrEqualTo(4), lguest.Stderr);
            Assert.That(lguest.Stderr, Does.Not.Contain("lguest: "), "no error on any reboot");
            Assert.That(code, Is.EqualTo(128 + 15));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Test]
    public void An_unknown_user_is_one_line_and_a_non_zero_exit_before_anything_runs()
    {
        (int code, _, string stderr) = LguestProcess.Run("--username=no-such-user-here", "64", "/etc/hostname");
        Assert.That(code, Is.EqualTo(3));
        Assert.That(stderr.Trim(), Is.EqualTo("lguest: getpwnam failed, incorrect username? (no user 'no-such-user-here' in the host's passwd database)"));
    }

    [Test]
    public void A_missing_chroot_directory_is_one_line_and_a_non_zero_exit_before_anything_runs()
    {
        (int code, _, string stderr) = LguestProcess.Run("--chroot=/nonexistent/lguest-root", "64", "/etc/hostname");
        Assert.That(code, Is.EqualTo(3));
        Assert.That(stderr.Trim(), Is.EqualTo("lguest: --chroot: '/nonexistent/lguest-root' is not a directory"));
    }

    private static int Count(string text, string what)
    {
        int count = 0;
        for (int at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal))
            count++;
        return count;
    }

    private static string Field(string[] status, string name) =>
        status.Single(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();
}
