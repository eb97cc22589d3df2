using Lguest.Cli;

namespace Lguest.Tests.Cli;

public class KernelConsoleDefaultTests
{
    private static RunArguments Parse(params string[] args)
    {
        Assert.That(RunArguments.TryParse(args, out RunArguments parsed, out string? error), Is.True, error);
        return parsed;
    }

    [Test]
    public void Without_a_console_argument_the_serial_console_comes_first()
    {
        RunArguments? added = KernelConsoleDefault.TryAdd(Parse("256", "vmlinuz", "quiet"), machineHasSerialConsole: true);
        Assert.That(added?.CommandLine, Is.EqualTo("console=ttyS0 quiet"));
        Assert.That(KernelConsoleDefault.TryAdd(Parse("256", "vmlinuz"), true)?.CommandLine, Is.EqualTo("console=ttyS0"));
    }

    [TestCase("console=hvc0")]
    [TestCase("console=ttyS1,115200")]
    [TestCase("console=")]
    [TestCase("quiet console=tty0")]
    public void A_console_the_user_named_is_kept_as_it_is(string argument)
    {
        Assert.That(KernelConsoleDefault.TryAdd(Parse("256", "vmlinuz", "quiet", argument), true), Is.Null);
    }

    [Test]
    public void A_console_word_after_double_dash_is_init_s_and_still_gets_the_default_before_it()
    {
        RunArguments? added = KernelConsoleDefault.TryAdd(Parse("256", "vmlinuz", "quiet", "--", "console=x"), true);
        Assert.That(added?.CommandLine, Is.EqualTo("console=ttyS0 quiet -- console=x"));
    }

    [Test]
    public void A_machine_without_a_serial_console_gets_nothing_added()
    {
        Assert.That(KernelConsoleDefault.TryAdd(Parse("256", "vmlinuz"), machineHasSerialConsole: false), Is.Null);
    }

    [Test]
    public void The_keyboard_follows_the_added_console()
    {
        RunArguments added = KernelConsoleDefault.TryAdd(Parse("256", "vmlinuz"), true)!;
        Assert.That(added.KernelConsoleIsVirtio, Is.False);
    }
}
