using Lguest.Tests.Support;

namespace Lguest.Tests.Cli;

/// <summary>
/// --seccomp on a running launcher, checked from outside: the filter, no new privileges and no capabilities
/// while a guest runs, and a call outside the policy (the test-only LGUEST_SECCOMP_SELFTEST hook opens an IPv4
/// socket) killing the process with SIGSYS after one line naming it, or only naming it under --seccomp=log.
/// </summary>
public class SeccompCommandTests
{
    // The probe's virtio-console test writes a line, then waits for input that never comes: the guest runs meanwhile.
    private static string[] WaitingProbe(params string[] options) =>
        [.. options, "--no-reboot", "64", GuestPrograms.Probe, "probe.only=virtio-console", "probe.console-wait=60000"];

    private static bool Greeted(string line) => line.Contains("hello from the probe on virtio-console", StringComparison.Ordinal);

    [Test]
    [Category("Kvm")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void By_default_the_running_launcher_is_filtered_has_no_new_privileges_and_no_capabilities()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using var lguest = LguestProcess.Start(WaitingProbe());
        Assert.That(lguest.WaitForLine(Greeted), Is.True, $"{string.Join('\n', lguest.Stdout)}\n{lguest.Stderr}");
        string[] status = File.ReadAllLines($"/proc/{lguest.Id}/status");
        int code = lguest.Terminate();
        Assert.Multiple(() =>
        {
            Assert.That(Field(status, "Seccomp"), Is.EqualTo("2"), "SECCOMP_MODE_FILTER");
            Assert.That(Field(status, "NoNewPrivs"), Is.EqualTo("1"));
            Assert.That(Field(status, "CapEff"), Is.EqualTo("0000000000000000"));
            Assert.That(Field(status, "CapPrm"), Is.EqualTo("0000000000000000"));
            Assert.That(lguest.Stderr, Does.Not.Contain("seccomp"), "no call outside the policy");
            Assert.That(code, Is.EqualTo(128 + 15), "SIGTERM still stops it: its handler's calls are in the policy");
        });
    }

    [Test]
    [Category("Kvm")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_call_outside_the_policy_kills_the_launcher_with_SIGSYS_after_one_line_naming_it()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using var lguest = LguestProcess.StartWrapped(["env", "LGUEST_SECCOMP_SELFTEST=1"], WaitingProbe());
        int code = lguest.WaitForExit();
        string[] lines = lguest.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(128 + 31), $"killed by SIGSYS\n{lguest.Stderr}");
            Assert.That(lines.Where(l => l.Contains("seccomp", StringComparison.Ordinal)),
                Is.EqualTo(new[] { "lguest: seccomp: socket(0x2, 0x80001, 0x6) is outside the policy: killed (SIGSYS)" }));
        });
    }

    [Test]
    [Category("Kvm")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Under_log_the_call_is_named_once_and_the_guest_runs_on()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using var lguest = LguestProcess.StartWrapped(["env", "LGUEST_SECCOMP_SELFTEST=1"], WaitingProbe("--seccomp=log"));
        Assert.That(lguest.WaitForLine(Greeted), Is.True, $"{string.Join('\n', lguest.Stdout)}\n{lguest.Stderr}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!lguest.Stderr.Contains("socket(", StringComparison.Ordinal) && !lguest.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60))
            Thread.Sleep(100);
        int code = lguest.Terminate();
        Assert.Multiple(() =>
        {
            Assert.That(lguest.Stderr, Does.Contain("lguest: seccomp: socket(family 2, type 0x80001) is outside the policy (allowed: --seccomp=log)"));
            Assert.That(code, Is.EqualTo(128 + 15), "still running when stopped");
        });
    }

    [Test]
    [Category("Kvm")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void The_garbage_collector_does_all_it_does_within_the_policy()
    {
        // A collection's calls (sysinfo for the memory load, commits, decommits) come when the heap says so; in a
        // long bed run one came from a vCPU thread holding the GC's lock and every allocating thread stopped behind it.
        using KvmHost.Scope kvm = KvmHost.Require();
        using var lguest = LguestProcess.StartWrapped(["env", "LGUEST_SECCOMP_SELFTEST=gc"], WaitingProbe("--seccomp=log"));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!lguest.Stderr.Contains("collections done", StringComparison.Ordinal) && !lguest.HasExited && clock.Elapsed < TimeSpan.FromSeconds(120))
            Thread.Sleep(100);
        string stderr = lguest.Stderr;
        lguest.Terminate();
        Assert.Multiple(() =>
        {
            Assert.That(stderr, Does.Contain("lguest: seccomp self-test: collections done"));
            Assert.That(stderr.Split('\n').Where(l => l.Contains("outside the policy", StringComparison.Ordinal)), Is.Empty);
        });
    }

    [Test]
    [Category("Kvm")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Off_installs_nothing()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using var lguest = LguestProcess.Start(WaitingProbe("--seccomp=off"));
        Assert.That(lguest.WaitForLine(Greeted), Is.True, $"{string.Join('\n', lguest.Stdout)}\n{lguest.Stderr}");
        string[] status = File.ReadAllLines($"/proc/{lguest.Id}/status");
        lguest.Terminate();
        Assert.That(Field(status, "Seccomp"), Is.EqualTo("0"));
    }

    private static string Field(string[] status, string name) =>
        status.Single(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();
}
