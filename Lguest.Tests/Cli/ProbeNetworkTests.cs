using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Cli;

/// <summary>
/// The probe guest's network card (probe.only=virtio-net) through lguest --tunnet on this host's KVM,
/// inside a network namespace the test creates and deletes: the host's ping reaches the guest (its ARP
/// and ICMP answers), and UDP datagrams of every size up to the MTU come back intact.
/// </summary>
[Category("Kvm")]
public partial class ProbeNetworkTests
{
    private const string HostIp = "10.0.3.1";
    private const string GuestIp = "10.0.3.2";
    private const int MaxPayload = 1500 - 20 - 8;

    [GeneratedRegex(@"^PROBE virtio-net ok arp (\d+) icmp (\d+) udp (\d+) udp-bytes (\d+)")]
    private static partial Regex Result();

    [Test]
    public void The_host_pings_the_probe_and_thousands_of_datagrams_of_every_size_come_back_intact()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using NetworkNamespace ns = NetworkNamespace.CreateOrIgnore();
        string probe = GuestPrograms.Probe;
        using var lguest = LguestProcess.StartWrapped(["ip", "netns", "exec", ns.Name],
            $"--tunnet={HostIp}/24", "64", probe, "probe.only=virtio-net", $"probe.net-ip={GuestIp}", "probe.net-wait=60000");
        Assert.That(lguest.WaitForLine(l => l.StartsWith("PROBE virtio-net ready", StringComparison.Ordinal)), Is.True,
            $"{string.Join('\n', lguest.Stdout)}\n{lguest.Stderr}");

        // The host's own ping: ARP first, then three echo requests.
        string ping = File.Exists("/usr/bin/ping") || File.Exists("/bin/ping") ? "ping" : "busybox";
        string[] pingArguments = ping == "ping" ? ["-c", "3", "-W", "10", GuestIp] : ["ping", "-c", "3", "-W", "10", GuestIp];
        (int pingStatus, string pingOutput) = ns.Exec(ping, pingArguments);
        Assert.That(pingStatus, Is.Zero, pingOutput);

        int echoed = 0;
        using (Socket socket = ns.Run(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 10_000 };
            s.Bind(new IPEndPoint(IPAddress.Parse(HostIp), 0));
            s.Connect(new IPEndPoint(IPAddress.Parse(GuestIp), 7));
            return s;
        }))
        {
            var back = new byte[2048];
            for (int round = 0; round < 2; round++)
            {
                for (int size = 0; size <= MaxPayload; size++)
                {
                    byte[] payload = EthernetFrames.Pattern(size, round * 10_000 + size);
                    socket.Send(payload);
                    int n;
                    try
                    {
                        n = socket.Receive(back);
                    }
                    catch (SocketException e)
                    {
                        Assert.Fail($"no echo of the {size}-byte datagram (round {round}): {e.SocketErrorCode}\n{string.Join('\n', lguest.Stdout)}");
                        return;
                    }
                    Assert.That(back.AsSpan(0, n).ToArray(), Is.EqualTo(payload), $"echo of {size} bytes, round {round}");
                    echoed++;
                }
            }
            socket.SendTo("stop"u8, new IPEndPoint(IPAddress.Parse(GuestIp), 9));
        }

        int status = lguest.WaitForExit();
        string console = string.Join('\n', lguest.Stdout);
        Match result = lguest.Stdout.Select(l => Result().Match(l)).FirstOrDefault(m => m.Success) ?? Match.Empty;
        Assert.Multiple(() =>
        {
            Assert.That(status, Is.Zero, $"{lguest.Stderr}\n{console}");
            Assert.That(result.Success, Is.True, console);
            Assert.That(int.Parse(result.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(1), "ARP replies");
            Assert.That(int.Parse(result.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(3), "ICMP echo replies");
            Assert.That(int.Parse(result.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(echoed), "UDP echoes");
            Assert.That(echoed, Is.EqualTo(2 * (MaxPayload + 1)));
            Assert.That(ns.Interfaces(), Is.EqualTo(new[] { "lo" }), "the tap is gone after the run");
        });
    }
}
