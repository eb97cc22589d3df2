using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// Our launcher as the L2 VMM in the nested bed: the Debian cloud kernel with the busybox guest image, booted
/// by lguest on L1's /dev/kvm, driven through its console as a person would (bed.sh's stdin is L1's console,
/// lguest's terminal). Each test is one bed run that checks several things. If NestedBedTests (QEMU as L2)
/// fail too, the bed is at fault, not lguest.
/// </summary>
[Category("Linux")]
public class LguestInBedTests
{
    /// <summary>A command whose output differs from its echo: "SHELL-42" only appears if the shell ran it.</summary>
    private const string ShellCheck = "echo SHELL-$((6*7)) $(tty) $(uname -r)\n";

    [Test]
    public void The_cloud_bzImage_boots_to_a_shell_on_ttyS0_that_runs_a_typed_command_and_poweroff_ends_lguest_with_0()
    {
        var bed = NestedBed.OpenOrIgnore();
        string release = bed.Kernels["LGUEST_CLOUD_RELEASE"];

        using NestedBedSession session = bed.Start("exec " + NestedBed.LguestCommand(GuestKernelFormat.BzImage));
        session.WaitFor("GUEST-INIT-READY");
        session.WaitForShellPrompt();
        session.Type(ShellCheck);
        session.WaitFor($"SHELL-42 /dev/ttyS0 {release}");
        session.WaitForShellPrompt();
        session.Type("poweroff\n");
        NestedBedRun run = session.Finish();

        Report(session, "bzImage");
        Assert.Multiple(() =>
        {
            Assert.That(run.CountLines("GUEST-INIT-READY"), Is.EqualTo(1), run.ToString());
            Assert.That(run.Console, Does.Contain("reboot: Power down"), run.ToString());
            Assert.That(run.ExitStatus, Is.Zero, "lguest's exit status (BED-EXIT)\n" + run);
        });
    }

    [Test]
    public void The_cloud_vmlinux_boots_through_PVH_to_a_shell_and_a_typed_reboot_boots_it_again_before_poweroff_ends_lguest_with_0()
    {
        var bed = NestedBed.OpenOrIgnore();
        string release = bed.Kernels["LGUEST_CLOUD_RELEASE"];

        using NestedBedSession session = bed.Start("exec " + NestedBed.LguestCommand(GuestKernelFormat.PvhVmlinux));
        session.WaitFor("GUEST-INIT-READY");
        session.WaitForShellPrompt();
        session.Type(ShellCheck);
        session.WaitFor($"SHELL-42 /dev/ttyS0 {release}");
        session.WaitForShellPrompt();
        session.Type("reboot\n");
        // The second boot: a fresh kernel, its own /init, and the console still reaches its shell.
        session.WaitFor("GUEST-INIT-READY");
        session.WaitForShellPrompt();
        session.Type("echo BOOT-$((1+1))\n");
        session.WaitFor("BOOT-2");
        session.WaitForShellPrompt();
        session.Type("poweroff\n");
        NestedBedRun run = session.Finish();

        Report(session, "PVH vmlinux");
        Assert.Multiple(() =>
        {
            Assert.That(run.CountLines("GUEST-INIT-READY"), Is.EqualTo(2), run.ToString());
            Assert.That(run.CountLines("SHELL-42"), Is.EqualTo(1), run.ToString());
            Assert.That(run.Console, Does.Contain("reboot: Power down"), run.ToString());
            Assert.That(run.ExitStatus, Is.Zero, "lguest's exit status (BED-EXIT)\n" + run);
        });
    }

    [Test]
    public void The_reboot_scenario_ends_lguest_with_0_at_the_first_reset_under_no_reboot_and_boots_again_without_it()
    {
        var bed = NestedBed.OpenOrIgnore();
        string once = NestedBed.LguestCommand(GuestKernelFormat.BzImage, "--no-reboot", "lguest.scenario=reboot");
        string again = NestedBed.LguestCommand(GuestKernelFormat.BzImage, "lguest.scenario=reboot");
        string command = $"{once}; echo \"FIRST-RUN-EXIT $?\"; exec {again}";

        using NestedBedSession session = bed.Start(command);
        session.WaitFor("FIRST-RUN-EXIT");
        session.WaitFor("GUEST-INIT-READY");
        session.WaitFor("GUEST-INIT-READY");
        // The guest reboots for ever; lguest's console escape (Ctrl-A x) stops it with status 0.
        session.Type("\u0001x");
        NestedBedRun run = session.Finish();

        string first = run.Console[..run.Console.IndexOf("FIRST-RUN-EXIT", StringComparison.Ordinal)];
        string second = run.Console[first.Length..];
        Assert.Multiple(() =>
        {
            Assert.That(run.Console, Does.Contain("FIRST-RUN-EXIT 0"), "--no-reboot: exit 0 at the first reset\n" + run);
            Assert.That(first.Split('\n').Count(l => l.Contains("GUEST-INIT-READY", StringComparison.Ordinal)), Is.EqualTo(1), run.ToString());
            Assert.That(first, Does.Contain("GUEST-REBOOTING"), run.ToString());
            Assert.That(second.Split('\n').Count(l => l.Contains("GUEST-INIT-READY", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(2), run.ToString());
            Assert.That(run.ExitStatus, Is.Zero, "Ctrl-A x: lguest's exit status (BED-EXIT)\n" + run);
        });
    }

    /// <summary>Timings for the test output: L1 up, and lguest's start (the command's) to the guest's /init.</summary>
    private static void Report(NestedBedSession session, string format)
    {
        TimeSpan? l1 = session.TimeOf("BED-COMMAND-START");
        TimeSpan? ready = session.TimeOf("GUEST-INIT-READY");
        if (l1 is { } up && ready is { } init)
            TestContext.Out.WriteLine($"timing ({format}): L1 up {up.TotalSeconds:F1} s, lguest start to GUEST-INIT-READY {(init - up).TotalSeconds:F1} s");
    }
}
