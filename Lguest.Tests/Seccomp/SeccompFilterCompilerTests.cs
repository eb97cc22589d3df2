using Lguest.Seccomp;

namespace Lguest.Tests.Seccomp;

/// <summary>The compiled filter, run on sample system-call records by the interpreter, as the kernel would run it.</summary>
public class SeccompFilterCompilerTests
{
    private const uint Deny = SeccompFilterCompiler.ReturnUserNotify;
    private const uint Allow = SeccompFilterCompiler.ReturnAllow;

    private static uint Run(SeccompPolicy policy, SeccompData call) =>
        BpfInterpreter.Run(SeccompFilterCompiler.Compile(policy, Deny), call);

    private static int Nr(string name) => SystemCallNames.NumberOf(name);

    [Test]
    public void A_call_in_the_policy_is_allowed_and_one_outside_it_denied()
    {
        var policy = new SeccompPolicy().Add(SystemCallRule.Any("read", "test")).Add(SystemCallRule.Any("write", "test"));
        Assert.Multiple(() =>
        {
            Assert.That(Run(policy, SeccompData.X86_64(Nr("read"))), Is.EqualTo(Allow));
            Assert.That(Run(policy, SeccompData.X86_64(Nr("write"))), Is.EqualTo(Allow));
            Assert.That(Run(policy, SeccompData.X86_64(Nr("execve"))), Is.EqualTo(Deny));
            Assert.That(Run(policy, SeccompData.X86_64(Nr("ptrace"))), Is.EqualTo(Deny));
        });
    }

    [Test]
    public void Another_architecture_s_call_is_killed_whatever_its_number()
    {
        var policy = new SeccompPolicy().Add(SystemCallRule.Any("read", "test"));
        var i386Read = new SeccompData(3, 0x40000003, 0, new ulong[6]); // AUDIT_ARCH_I386: 3 is read there, close here
        Assert.That(Run(policy, i386Read), Is.EqualTo(SeccompFilterCompiler.ReturnKillProcess));
    }

    [Test]
    public void An_x32_call_is_denied_even_when_its_number_without_the_bit_is_allowed()
    {
        var policy = new SeccompPolicy().Add(SystemCallRule.Any("read", "test"));
        var x32Read = new SeccompData((int)(SeccompData.X32SystemCallBit | 0), SeccompData.ArchX86_64, 0, new ulong[6]);
        Assert.That(Run(policy, x32Read), Is.EqualTo(Deny));
    }

    [Test]
    public void An_argument_filter_allows_only_the_listed_values_and_compares_the_low_32_bits()
    {
        var policy = new SeccompPolicy()
            .Add(SystemCallRule.WhereArgument("ioctl", 1, [0xAE80u, 0x5401u], "test"))
            .Add(SystemCallRule.Any("close", "test"));
        Assert.Multiple(() =>
        {
            Assert.That(Run(policy, SeccompData.X86_64(Nr("ioctl"), 5, 0xAE80)), Is.EqualTo(Allow), "KVM_RUN");
            Assert.That(Run(policy, SeccompData.X86_64(Nr("ioctl"), 5, 0x5401)), Is.EqualTo(Allow), "TCGETS");
            Assert.That(Run(policy, SeccompData.X86_64(Nr("ioctl"), 5, 0xFFFFFFFF_0000AE80)), Is.EqualTo(Allow),
                "the kernel takes the request as an unsigned int: high bits do not change which request it is");
            Assert.That(Run(policy, SeccompData.X86_64(Nr("ioctl"), 5, 0xAE01)), Is.EqualTo(Deny), "KVM_CREATE_VM is not listed");
            Assert.That(Run(policy, SeccompData.X86_64(Nr("ioctl"), 0xAE80, 7)), Is.EqualTo(Deny), "the value must be in the filtered argument");
            Assert.That(Run(policy, SeccompData.X86_64(Nr("close"), 3)), Is.EqualTo(Allow), "rules after an argument block are still reached");
        });
    }

    [Test]
    public void A_rule_with_more_values_than_a_conditional_jump_can_skip_still_compiles_and_works()
    {
        uint[] values = [.. Enumerable.Range(1, 400).Select(v => (uint)v * 3)];
        var policy = new SeccompPolicy().Add(SystemCallRule.WhereArgument("ioctl", 1, values, "test")).Add(SystemCallRule.Any("close", "test"));
        Assert.Multiple(() =>
        {
            Assert.That(Run(policy, SeccompData.X86_64(Nr("ioctl"), 0, 1200)), Is.EqualTo(Allow));
            Assert.That(Run(policy, SeccompData.X86_64(Nr("ioctl"), 0, 1201)), Is.EqualTo(Deny));
            Assert.That(Run(policy, SeccompData.X86_64(Nr("close"))), Is.EqualTo(Allow));
        });
    }

    [Test]
    public void A_failing_rule_answers_with_its_errno_without_running_the_call()
    {
        var policy = new SeccompPolicy().Add(SystemCallRule.Fails("clone3", 38, "test"));
        Assert.That(Run(policy, SeccompData.X86_64(Nr("clone3"))), Is.EqualTo(SeccompFilterCompiler.ReturnErrno | 38));
    }

    [Test]
    public void Rules_for_one_call_merge_and_the_looser_wins()
    {
        var policy = new SeccompPolicy()
            .Add(SystemCallRule.WhereArgument("socket", 0, [1u], "unix"))
            .Add(SystemCallRule.WhereArgument("socket", 0, [16u], "netlink"));
        Assert.Multiple(() =>
        {
            Assert.That(policy.Rules, Has.Count.EqualTo(1));
            Assert.That(policy.Find("socket")!.AllowedValues, Is.EquivalentTo(new uint[] { 1, 16 }));
            Assert.That(Run(policy, SeccompData.X86_64(Nr("socket"), 2)), Is.EqualTo(Deny), "AF_INET is in neither");
        });
        policy.Add(SystemCallRule.Any("socket", "any"));
        Assert.That(Run(policy, SeccompData.X86_64(Nr("socket"), 2)), Is.EqualTo(Allow));
    }

    [Test]
    public void The_launcher_policy_allows_the_hot_calls_and_denies_what_an_attacker_wants()
    {
        SeccompPolicy policy = SeccompPolicy.ForLauncher();
        Assert.Multiple(() =>
        {
            Assert.That(Run(policy, SeccompData.X86_64(Nr("ioctl"), 9, 0xAE80)), Is.EqualTo(Allow), "KVM_RUN");
            Assert.That(Run(policy, SeccompData.X86_64(Nr("futex"))), Is.EqualTo(Allow));
            Assert.That(Run(policy, SeccompData.X86_64(Nr("io_uring_enter"))), Is.EqualTo(Allow));
            Assert.That(Run(policy, SeccompData.X86_64(Nr("clone"), 0x3D0F00)), Is.EqualTo(Allow), "a thread");
            Assert.That(Run(policy, SeccompData.X86_64(Nr("clone"), 17)), Is.EqualTo(Deny), "fork's SIGCHLD clone: a process");
            Assert.That(Run(policy, SeccompData.X86_64(Nr("tgkill"), (ulong)Environment.ProcessId, 1, 10)), Is.EqualTo(Allow));
            Assert.That(Run(policy, SeccompData.X86_64(Nr("tgkill"), 1, 1, 9)), Is.EqualTo(Deny), "another process's thread");
            foreach (string call in new[] { "execve", "execveat", "ptrace", "fork", "vfork", "kill", "open", "socket", "connect",
                         "mount", "setuid", "init_module", "bpf", "process_vm_writev", "keyctl", "unshare", "setns", "pivot_root", "chroot" })
                Assert.That(Run(policy, SeccompData.X86_64(Nr(call))), Is.EqualTo(Deny), call);
            Assert.That(Run(policy, SeccompData.X86_64(Nr("ioctl"), 9, 0x400454CA)), Is.EqualTo(Deny), "TUNSETIFF: a new tap after start");
            Assert.That(Run(policy, SeccompData.X86_64(Nr("openat"))), Is.EqualTo(SeccompFilterCompiler.ReturnErrno | 13),
                "no new file: EACCES, which glibc's CPU count falls back from");
        });
    }

    [Test]
    public void Features_grant_their_calls_only_when_asked()
    {
        SeccompPolicy plain = SeccompPolicy.ForLauncher();
        SeccompPolicy sharing = SeccompPolicy.ForLauncher(LauncherFeatures.SharedFolders | LauncherFeatures.UnixSocketConnections);
        Assert.Multiple(() =>
        {
            Assert.That(Run(plain, SeccompData.X86_64(Nr("openat2"))), Is.EqualTo(Deny));
            Assert.That(Run(sharing, SeccompData.X86_64(Nr("openat"))), Is.EqualTo(Allow), "a share opens files: the looser rule wins");
            Assert.That(Run(sharing, SeccompData.X86_64(Nr("openat2"))), Is.EqualTo(Allow));
            Assert.That(Run(sharing, SeccompData.X86_64(Nr("socket"), 1)), Is.EqualTo(Allow), "AF_UNIX");
            Assert.That(Run(sharing, SeccompData.X86_64(Nr("socket"), 2)), Is.EqualTo(Deny), "AF_INET");
            Assert.That(Run(sharing, SeccompData.X86_64(Nr("execve"))), Is.EqualTo(Deny));
        });
    }

    [Test]
    public void On_the_JIT_runtime_the_exit_may_remove_the_runtime_s_debugger_pipes()
    {
        // This test runs on the JIT runtime, as an embedding application or `dotnet Lguest.Cli.dll` does: its exit
        // unlinks /tmp/clr-debug-pipe-PID-* and the diagnostics socket (the NativeAOT lguest makes none).
        Assert.That(System.Runtime.JitInfo.GetCompiledMethodCount(), Is.GreaterThan(0), "the test runs on the JIT");
        Assert.That(Run(SeccompPolicy.ForLauncher(), SeccompData.X86_64(Nr("unlink"))), Is.EqualTo(Allow));
        Assert.That(SeccompPolicy.ForLauncher().Find("unlink")!.Reason, Does.Contain("JIT runtime"));
    }

    [Test]
    public void On_the_JIT_runtime_the_control_socket_may_resolve_an_assembly_s_path()
    {
        // The API's first PATCH /vm after the boot loads its assembly on the JIT runtime (`dotnet Lguest.Cli.dll
        // --api-sock`): the path is resolved with readlink first, and the first pause died of SIGSYS without it.
        Assert.That(System.Runtime.JitInfo.GetCompiledMethodCount(), Is.GreaterThan(0), "the test runs on the JIT");
        Assert.That(Run(SeccompPolicy.ForLauncher(LauncherFeatures.ControlSocket), SeccompData.X86_64(Nr("readlink"))), Is.EqualTo(Allow));
        Assert.That(Run(SeccompPolicy.ForLauncher(), SeccompData.X86_64(Nr("readlink"))), Is.Not.EqualTo(Allow), "only with the socket");
    }

    [Test]
    public void A_snapshot_into_a_relative_directory_may_ask_for_the_working_directory()
    {
        // lguest --snapshot-to=snap: .NET makes the path absolute with getcwd when SIGUSR1 or SIGUSR2 comes.
        Assert.That(Run(SeccompPolicy.ForLauncher(LauncherFeatures.Snapshots), SeccompData.X86_64(Nr("getcwd"))), Is.EqualTo(Allow));
        Assert.That(Run(SeccompPolicy.ForLauncher(), SeccompData.X86_64(Nr("getcwd"))), Is.EqualTo(Deny));
    }

    [Test]
    public void Every_rule_of_the_table_names_a_reason_and_the_program_fits_the_kernel_s_limit()
    {
        SeccompPolicy all = SeccompPolicy.ForLauncher(LauncherFeatures.SharedFolders | LauncherFeatures.UnixSocketConnections
            | LauncherFeatures.ControlSocket | LauncherFeatures.Snapshots);
        Assert.That(all.Rules.Where(r => string.IsNullOrWhiteSpace(r.Reason)), Is.Empty);
        Assert.That(SeccompFilterCompiler.Compile(all, Deny), Has.Length.LessThanOrEqualTo(SeccompFilterCompiler.MaxInstructions));
    }

    [Test]
    public void A_name_that_is_not_a_system_call_is_refused_when_the_rule_is_made()
    {
        Assert.Throws<ArgumentException>(() => SystemCallRule.Any("not_a_call", "test"));
        Assert.That(SystemCallNames.Of(59), Is.EqualTo("execve"));
        Assert.That(SystemCallNames.Of(100_000), Is.EqualTo("syscall 100000"));
    }
}
