using Lguest.Cli;

namespace Lguest.Tests.Cli;

public class ConsoleEscapeStreamTests
{
    private static (byte[] Passed, bool Escaped) Filter(byte[] input)
    {
        bool escaped = false;
        using var stream = new ConsoleEscapeStream(new MemoryStream(input), () => escaped = true);
        var output = new MemoryStream();
        var buffer = new byte[64];
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            output.Write(buffer, 0, n);
        return (output.ToArray(), escaped);
    }

    [Test]
    public void Ordinary_input_passes_through()
    {
        Assert.That(Filter("ls\r"u8.ToArray()), Is.EqualTo(("ls\r"u8.ToArray(), false)));
    }

    [Test]
    public void Ctrl_A_x_stops_and_ends_the_input()
    {
        Assert.That(Filter([(byte)'a', 0x01, (byte)'x', (byte)'b']), Is.EqualTo((new[] { (byte)'a' }, true)));
    }

    [Test]
    public void Ctrl_A_twice_sends_one_Ctrl_A()
    {
        Assert.That(Filter([0x01, 0x01, (byte)'x']), Is.EqualTo((new byte[] { 0x01, (byte)'x' }, false)));
    }

    [Test]
    public void Ctrl_A_before_another_key_sends_both()
    {
        Assert.That(Filter([0x01, (byte)'c']), Is.EqualTo((new byte[] { 0x01, (byte)'c' }, false)));
    }
}
