using Lguest.Tests.Support;

namespace Lguest.Tests.Cli;

/// <summary>The lguest command as a user runs it: exit codes and one-line errors.</summary>
public class LguestCommandTests
{
    [Test]
    public void Help_prints_the_usage_and_exits_0()
    {
        (int code, IReadOnlyList<string> stdout, _) = LguestProcess.Run("--help");
        Assert.That(code, Is.Zero);
        Assert.That(stdout[0], Does.StartWith("Usage: lguest [--verbose|-v] [--tunnet="));
    }

    [Test]
    public void A_malformed_command_line_exits_1_with_the_reason_and_where_the_help_is_on_stderr()
    {
        (int code, IReadOnlyList<string> stdout, string stderr) = LguestProcess.Run("--x", "64", "k");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stdout, Is.Empty);
        Assert.That(stderr.TrimEnd('\n').Split('\n'), Is.EqualTo(new[]
        {
            "lguest: unrecognized option '--x'",
            "Try 'lguest --help' for more information.",
        }));
    }

    [Test]
    public void A_command_line_without_the_kernel_exits_1_with_two_lines()
    {
        (int code, _, string stderr) = LguestProcess.Run("64");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stderr, Is.EqualTo("lguest: missing vmlinux\nTry 'lguest --help' for more information.\n"));
    }

    [Test]
    public void A_missing_kernel_exits_3_with_one_line()
    {
        (int code, _, string stderr) = LguestProcess.Run("64", "/nonexistent/vmlinux");
        Assert.That((code, stderr.Trim()), Is.EqualTo((3, "lguest: kernel '/nonexistent/vmlinux' not found")));
    }

    [Test]
    public void Memory_that_is_not_a_number_exits_3()
    {
        (int code, _, string stderr) = LguestProcess.Run("lots", "/nonexistent/vmlinux");
        Assert.That((code, stderr.Trim()), Is.EqualTo((3, "lguest: memory size 'lots' is not a number of megabytes")));
    }

    [Test]
    public void Memory_beyond_the_host_exits_3()
    {
        (int code, _, string stderr) = LguestProcess.Run("100000000", "/nonexistent/vmlinux");
        Assert.That(code, Is.EqualTo(3));
        Assert.That(stderr, Does.Contain("MiB of guest memory is more than"));
    }

    [Test]
    public void The_lguest_backend_is_reported_unavailable_where_the_machine_starts()
    {
        // A kernel that exists: the inputs are fine, and the run gets as far as opening the backend.
        using var folder = new TemporaryFolder();
        string kernel = folder.Write("vmlinux", new byte[4096]);
        (int code, _, string stderr) = LguestProcess.Run("--backend=lguest", "64", kernel);
        Assert.That(code, Is.EqualTo(4));
        Assert.That(stderr.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(stderr, Does.StartWith("lguest: ").And.Contain("/dev/lguest"));
    }

    [Test]
    [Category("Kvm")]
    public void A_file_that_is_not_a_kernel_exits_3_with_the_loader_s_reason()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        string notKernel = Path.GetTempFileName();
        File.WriteAllText(notKernel, "this is not a kernel\n");
        try
        {
            (int code, _, string stderr) = LguestProcess.Run("64", notKernel);
            Assert.That(code, Is.EqualTo(3), stderr);
            Assert.That(stderr.Trim().Split('\n'), Has.Length.EqualTo(1));
        }
        finally
        {
            File.Delete(notKernel);
        }
    }
}
