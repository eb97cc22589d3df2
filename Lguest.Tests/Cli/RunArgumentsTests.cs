using Lguest.Cli;

namespace Lguest.Tests.Cli;

public class RunArgumentsTests
{
    private static RunArguments Parse(params string[] args)
    {
        Assert.That(RunArguments.TryParse(args, out RunArguments parsed, out string? error), Is.True, error);
        return parsed;
    }

    private static string Refuse(params string[] args)
    {
        Assert.That(RunArguments.TryParse(args, out _, out string? error), Is.False);
        return error!;
    }

    [Test]
    public void Memory_kernel_and_kernel_arguments_are_positional()
    {
        RunArguments a = Parse("512", "vmlinux", "console=ttyS0", "quiet");
        Assert.That((a.Memory, a.Kernel, a.CommandLine), Is.EqualTo(("512", "vmlinux", "console=ttyS0 quiet")));
    }

    [Test]
    public void Options_take_their_value_after_an_equals_sign_or_as_the_next_argument()
    {
        RunArguments a = Parse("--initrd=one.img", "--cpus", "2", "--backend", "kvm", "64", "k");
        Assert.That((a.Initrd, a.Cpus, a.Backend), Is.EqualTo(("one.img", 2, "kvm")));
        Assert.That(Parse("--initrd", "two.img", "64", "k").Initrd, Is.EqualTo("two.img"));
    }

    [Test]
    public void Flags_are_recognised()
    {
        RunArguments a = Parse("--verbose", "--no-reboot", "64", "k");
        Assert.That((a.Verbose, a.NoReboot), Is.EqualTo((true, true)));
    }

    [Test]
    public void Launcher_options_after_the_kernel_are_still_the_launcher_s()
    {
        RunArguments a = Parse("512", "vmlinuz", "--initrd=initrd.img", "console=ttyS0");
        Assert.That((a.Initrd, a.CommandLine), Is.EqualTo(("initrd.img", "console=ttyS0")));
    }

    [Test]
    public void Unknown_options_after_the_kernel_go_to_the_kernel()
    {
        Assert.That(Parse("64", "k", "--weird", "quiet").CommandLine, Is.EqualTo("--weird quiet"));
    }

    [Test]
    public void A_double_dash_after_the_kernel_passes_the_rest_verbatim()
    {
        Assert.That(Parse("64", "k", "ro", "--", "--verbose", "single").CommandLine, Is.EqualTo("ro -- --verbose single"));
    }

    [Test]
    public void A_double_dash_before_the_positionals_only_ends_the_options()
    {
        RunArguments a = Parse("--", "64", "-k", "quiet");
        Assert.That((a.Memory, a.Kernel, a.CommandLine), Is.EqualTo(("64", "-k", "quiet")));
    }

    [Test]
    public void Help_needs_nothing_else()
    {
        Assert.That(Parse("--help").Help, Is.True);
    }

    [Test]
    public void A_missing_kernel_is_refused()
    {
        Assert.That(Refuse("64"), Is.EqualTo("missing vmlinux"));
    }

    [Test]
    public void An_unknown_option_is_refused_by_name()
    {
        Assert.That(Refuse("--frobnicate", "64", "k"), Does.Contain("--frobnicate"));
    }

    [Test]
    public void An_option_without_its_value_is_refused()
    {
        Assert.That(Refuse("--initrd"), Is.EqualTo("option '--initrd' requires an argument"));
    }

    [Test]
    public void A_bad_cpu_count_is_refused()
    {
        Assert.That(Refuse("--cpus=0", "64", "k"), Does.Contain("--cpus"));
        Assert.That(Refuse("--cpus=many", "64", "k"), Does.Contain("--cpus"));
    }

    [Test]
    public void An_unknown_backend_is_refused()
    {
        Assert.That(Refuse("--backend=xen", "64", "k"), Does.Contain("auto, kvm, lguest"));
    }
}
