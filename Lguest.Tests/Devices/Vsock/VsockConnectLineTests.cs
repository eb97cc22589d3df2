using System.Text;
using Lguest.Devices;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>The hybrid vsock's <c>CONNECT &lt;port&gt;\n</c> line, as Firecracker's docs/vsock.md gives it.</summary>
public class VsockConnectLineTests
{
    [TestCase("CONNECT 52\n", 52u)]
    [TestCase("connect 52\n", 52u)]
    [TestCase("CONNECT 0\n", 0u)]
    [TestCase("CONNECT 4294967294\n", 4294967294u)]
    [TestCase("CONNECT 0000000052\n", 52u)]
    public void A_connect_line_gives_its_port(string line, uint port)
    {
        Assert.That(VsockConnectLine.TryParse(Encoding.ASCII.GetBytes(line), out uint parsed, out string? error), Is.True, error);
        Assert.That(parsed, Is.EqualTo(port));
    }

    [TestCase("CONNECT 52", "not a line")]
    [TestCase("CONNECT \n", "not CONNECT")]
    [TestCase("CONNECT\n", "not CONNECT")]
    [TestCase("CONNECT  52\n", "not a decimal")]
    [TestCase("CONNECT 52 \n", "not a decimal")]
    [TestCase("CONNECT +52\n", "not a decimal")]
    [TestCase("CONNECT 0x34\n", "not a decimal")]
    [TestCase("CONNECT 4294967295\n", "out of range")]
    [TestCase("CONNECT 99999999999\n", "more than 10 digits")]
    [TestCase("CONNECTX52\n", "not CONNECT")]
    [TestCase("OK 52\n", "not CONNECT")]
    [TestCase("\n", "not CONNECT")]
    [TestCase("CONNECT 52\r\n", "not a decimal")]
    public void Anything_else_is_refused_with_the_reason(string line, string reason)
    {
        Assert.That(VsockConnectLine.TryParse(Encoding.ASCII.GetBytes(line), out _, out string? error), Is.False);
        Assert.That(error, Does.Contain(reason));
    }

    [Test]
    public void A_line_longer_than_the_limit_is_refused()
    {
        byte[] line = Encoding.ASCII.GetBytes("CONNECT " + new string('0', VsockConnectLine.MaxLength) + "\n");
        Assert.That(VsockConnectLine.TryParse(line, out _, out string? error), Is.False);
        Assert.That(error, Does.Contain("at most"));
    }
}
