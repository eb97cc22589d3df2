using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Cli;

/// <summary>The probe guest booted by the lguest command on this host's KVM.</summary>
[Category("Kvm")]
public partial class ProbeGuestTests
{
    [GeneratedRegex(@"^PROBE (\S+) (ok|fail)\b(.*)$")]
    private static partial Regex Result();

    [GeneratedRegex(@"^PROBE done (\d+)/(\d+)$")]
    private static partial Regex Done();

    [Test]
    public void Every_probe_passes_and_the_guest_powers_off_with_exit_code_0()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        string probe = GuestPrograms.Probe;
        (int code, IReadOnlyList<string> stdout, string stderr) = LguestProcess.Run("512", probe, "probe.x=1");
        string console = string.Join('\n', stdout);
        Assert.That(code, Is.Zero, $"{stderr}\n{console}");
        string[] failed = stdout.Select(l => Result().Match(l)).Where(m => m.Success && m.Groups[2].Value == "fail").Select(m => m.Value).ToArray();
        Assert.That(failed, Is.Empty, console);
        Match done = stdout.Select(l => Done().Match(l)).LastOrDefault(m => m.Success) ?? Match.Empty;
        Assert.That(done.Success, Is.True, console);
        Assert.That(done.Groups[1].Value, Is.EqualTo(done.Groups[2].Value), console);
        // No console= among the arguments: lguest put COM1's first (KernelConsoleDefault).
        Assert.That(stdout, Has.Some.EqualTo("PROBE cmdline ok console=ttyS0 probe.x=1"));
    }

    [Test]
    public void Without_a_console_argument_lguest_adds_console_ttyS0_and_says_so_under_verbose()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        (int code, IReadOnlyList<string> stdout, string stderr) = LguestProcess.Run("-v", "64", GuestPrograms.Probe, "probe.only=cmdline");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stderr, Does.Contain("the kernel arguments name no console=: added console=ttyS0"));
        Assert.That(stdout, Has.Some.EqualTo("PROBE cmdline ok console=ttyS0 probe.only=cmdline"));

        (code, stdout, stderr) = LguestProcess.Run("-v", "64", GuestPrograms.Probe, "console=hvc0", "probe.only=cmdline");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stderr, Does.Not.Contain("console=ttyS0"));
        Assert.That(stdout, Has.Some.EqualTo("PROBE cmdline ok console=hvc0 probe.only=cmdline"));
    }

    [Test]
    public void A_triple_faulting_guest_exits_6_with_a_clear_message()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        // No IDT: the #UD becomes #GP, then #DF, then a triple fault (no int n, which kvm_pvm cannot emulate).
        string guest = GuestPrograms.Pvh("triple-fault", "\tlidt idt\n\tud2\nidt:\t.word 0\n\t.long 0\n");
        (int code, _, string stderr) = LguestProcess.Run("64", guest);
        Assert.That(code, Is.EqualTo(6), stderr);
        Assert.That(stderr.Trim(), Does.StartWith("lguest: vCPU 0 triple-faulted").And.Contain("RIP 0x"));
    }

    [Test]
    public void A_guest_that_resets_under_no_reboot_exits_0()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        string guest = GuestPrograms.Pvh("reset", "\tmovw $0xcf9, %dx\n\tmovb $6, %al\n\toutb %al, %dx\n1:\tjmp 1b\n");
        (int code, _, string stderr) = LguestProcess.Run("--no-reboot", "--verbose", "64", guest);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stderr, Does.Contain("the guest asked for a reset"));
    }
}
