using Lguest.Tests.Support;

namespace Lguest.Tests.Cli;

/// <summary>
/// lguest --jail checked from outside: the jailed lguest is the first process of its own PID namespace, in
/// mount and IPC namespaces of its own whose mounts do not propagate, still filtered and without capabilities;
/// the waiting parent passes SIGTERM on and returns the child's status, SIGSYS's included.
/// </summary>
public class JailCommandTests
{
    private static string[] WaitingProbe(params string[] options) =>
        [.. options, "--jail", "--no-reboot", "64", GuestPrograms.Probe, "probe.only=virtio-console", "probe.console-wait=60000"];

    private static bool Greeted(string line) => line.Contains("hello from the probe on virtio-console", StringComparison.Ordinal);

    [Test]
    [Category("Kvm")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void The_jailed_launcher_runs_as_pid_1_of_new_namespaces_confined_and_stops_on_the_parents_SIGTERM()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        RequireRoot();
        using var lguest = LguestProcess.Start(WaitingProbe());
        Assert.That(lguest.WaitForLine(Greeted), Is.True, $"{string.Join('\n', lguest.Stdout)}\n{lguest.Stderr}");
        int child = ChildOf(lguest.Id);
        string[] status = File.ReadAllLines($"/proc/{child}/status");
        string[] mounts = File.ReadAllLines($"/proc/{child}/mountinfo");
        var namespaces = new[] { "mnt", "ipc", "pid" }.ToDictionary(n => n, n => (Host: Namespace("self", n), Jailed: Namespace($"{child}", n)));
        string parentPid = Namespace($"{lguest.Id}", "pid");
        int code = lguest.Terminate();
        Assert.Multiple(() =>
        {
            Assert.That(Field(status, "NSpid").Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { $"{child}", "1" }),
                "the host's PID, then 1 in its own namespace");
            foreach ((string name, (string host, string jailed)) in namespaces)
                Assert.That(jailed, Is.Not.EqualTo(host), $"a {name} namespace of its own");
            Assert.That(parentPid, Is.EqualTo(namespaces["pid"].Host), "the waiting parent stays in the host's PID namespace");
            Assert.That(mounts.Where(l => l.Contains(" shared:", StringComparison.Ordinal)), Is.Empty, "no mount propagates to or from the host");
            Assert.That(Field(status, "Seccomp"), Is.EqualTo("2"));
            Assert.That(Field(status, "NoNewPrivs"), Is.EqualTo("1"));
            Assert.That(Field(status, "CapEff"), Is.EqualTo("0000000000000000"));
            Assert.That(code, Is.EqualTo(128 + 15), $"the parent passed SIGTERM on and returned the child's status\n{lguest.Stderr}");
            Assert.That(Directory.Exists($"/proc/{child}"), Is.False, "the jailed lguest is gone with it");
        });
    }

    [Test]
    [Category("Kvm")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_call_outside_the_policy_ends_the_jailed_launcher_with_SIGSYS_status_and_one_line()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        RequireRoot();
        // PID 1 of a namespace ignores a signal it sends itself without a handler: the listener exits with 128 + SIGSYS.
        using var lguest = LguestProcess.StartWrapped(["env", "LGUEST_SECCOMP_SELFTEST=1"], WaitingProbe());
        int code = lguest.WaitForExit();
        string[] lines = lguest.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(128 + 31), $"SIGSYS's status\n{lguest.Stderr}");
            Assert.That(lines.Where(l => l.Contains("seccomp", StringComparison.Ordinal)),
                Is.EqualTo(new[] { "lguest: seccomp: socket(0x2, 0x80001, 0x6) is outside the policy: killed (SIGSYS)" }));
        });
    }

    private static void RequireRoot()
    {
        if (Environment.UserName != "root")
            Assert.Ignore("--jail makes new namespaces, which needs root (CAP_SYS_ADMIN): run the Kvm layer as root");
    }

    /// <summary>The one child of <paramref name="parent"/> (any of its threads may have forked it).</summary>
    private static int ChildOf(int parent)
    {
        int[] children = Directory.GetDirectories($"/proc/{parent}/task")
            .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(int.Parse).ToArray();
        Assert.That(children, Has.Length.EqualTo(1), "the waiting parent has one child, the jailed lguest");
        return children[0];
    }

    private static string Namespace(string process, string name) => new FileInfo($"/proc/{process}/ns/{name}").LinkTarget ?? "";

    private static string Field(string[] status, string name) =>
        status.Single(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();
}
