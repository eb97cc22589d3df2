using System.Net;
using System.Net.Sockets;
using Lguest.Tests.Support;

namespace Lguest.Tests.Cli.Api;

/// <summary>
/// PATCH /vm on a running guest on this host's KVM: the probe guest's network card (probe.only=virtio-net, echoing UDP
/// from its eight receive buffers) behind lguest --api-sock --tunnet, in a network namespace the test creates. Paused, the
/// guest answers nothing and lguest spends no CPU (every thread parked or asleep); resumed, the datagram sent meanwhile
/// comes back; and after more pauses than the guest has receive buffers, every datagram still does (a paused device
/// keeps the buffers it took from the ring). The Linux proof, under disk and network load, is ApiSocketInBedTests'.
/// </summary>
[Category("Kvm")]
public class ApiPauseProbeTests
{
    private const string HostIp = "10.0.3.1";
    private const string GuestIp = "10.0.3.2";

    /// <summary>More than the probe's eight receive buffers: a pause that lost the one its device held would run it dry.</summary>
    private const int Pauses = 12;

    /// <summary>How long the machine stays paused while lguest's CPU time is sampled.</summary>
    private static readonly TimeSpan PausedFor = TimeSpan.FromSeconds(3);

    /// <summary>
    /// The most clock ticks (10 ms each) lguest may spend in <see cref="PausedFor"/>: what an idle process spends on its
    /// timers and a JIT's late compilations, far from the 300 a thread left spinning spends.
    /// </summary>
    private const int MaxPausedTicks = 30;

    [Test]
    public void A_paused_guest_answers_nothing_lguest_spends_no_cpu_and_its_network_outlives_many_pauses()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using NetworkNamespace ns = NetworkNamespace.CreateOrIgnore();
        using var folder = new TemporaryFolder();
        string socketPath = Path.Combine(folder.Path, "api.sock");
        using var lguest = LguestProcess.StartWrapped(["ip", "netns", "exec", ns.Name], $"--api-sock={socketPath}",
            $"--tunnet={HostIp}/24", "64", GuestPrograms.Probe, "probe.only=virtio-net", $"probe.net-ip={GuestIp}", "probe.net-wait=120000");
        Assert.That(lguest.WaitForLine(l => l.StartsWith("PROBE virtio-net ready", StringComparison.Ordinal)), Is.True,
            $"{string.Join('\n', lguest.Stdout)}\n{lguest.Stderr}");
        using HttpClient api = UnixSocketHttp.Client(socketPath);
        using Socket udp = ns.Run(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 30_000 };
            s.Bind(new IPEndPoint(IPAddress.Parse(HostIp), 0));
            s.Connect(new IPEndPoint(IPAddress.Parse(GuestIp), 7));
            return s;
        });
        string Context() => $"{string.Join('\n', lguest.Stdout.TakeLast(20))}\n{lguest.Stderr}";
        void Echo(int n)
        {
            byte[] payload = EthernetFrames.Pattern(64 + n, n);
            udp.Send(payload);
            var back = new byte[2048];
            int length = 0;
            try
            {
                length = udp.Receive(back);
            }
            catch (SocketException e)
            {
                Assert.Fail($"no echo {n} ({e.SocketErrorCode}): the guest's network did not outlive the pauses\n{Context()}");
            }
            Assert.That(back.AsSpan(0, length).ToArray(), Is.EqualTo(payload), $"echo {n}\n{Context()}");
        }

        Echo(0);
        Assert.That(api.Send("PATCH", "/vm", """{"state": "Paused"}""").Status, Is.EqualTo(204), Context());
        long ticks0 = ProcessCpu.Ticks(lguest.Id);
        Dictionary<string, long> threads0 = ProcessCpu.ThreadTicks(lguest.Id);
        byte[] sentWhilePaused = EthernetFrames.Pattern(100, 77);
        udp.Send(sentWhilePaused);
        bool answeredWhilePaused = udp.Poll((int)PausedFor.TotalMicroseconds, SelectMode.SelectRead);
        long spent = ProcessCpu.Ticks(lguest.Id) - ticks0;
        string busiest = ProcessCpu.Busiest(threads0, ProcessCpu.ThreadTicks(lguest.Id));
        (int status, string state) = api.Send("GET", "/");
        TestContext.Progress.WriteLine($"api pause (probe on this host's KVM): lguest spent {spent} clock ticks in a {PausedFor.TotalSeconds} s pause [{busiest}]");
        Assert.Multiple(() =>
        {
            Assert.That(answeredWhilePaused, Is.False, "a paused guest answers nothing");
            Assert.That(spent, Is.LessThanOrEqualTo(MaxPausedTicks), $"lguest's clock ticks while paused, by thread: {busiest}");
            Assert.That((status, state.Contains("\"state\":\"Paused\"", StringComparison.Ordinal)), Is.EqualTo((200, true)), state);
        });

        Assert.That(api.Send("PATCH", "/vm", """{"state": "Resumed"}""").Status, Is.EqualTo(204), Context());
        var echoed = new byte[2048];
        int got = udp.Receive(echoed);
        Assert.That(echoed.AsSpan(0, got).ToArray(), Is.EqualTo(sentWhilePaused), "the datagram sent while paused comes back after the resume");

        for (int i = 1; i <= Pauses; i++)
        {
            Assert.That(api.Send("PATCH", "/vm", """{"state": "Paused"}""").Status, Is.EqualTo(204), $"pause {i}");
            Assert.That(api.Send("PATCH", "/vm", """{"state": "Resumed"}""").Status, Is.EqualTo(204), $"resume {i}");
            Echo(i);
        }
        udp.SendTo("stop"u8, new IPEndPoint(IPAddress.Parse(GuestIp), 9));
        Assert.That(lguest.WaitForExit(), Is.Zero, Context());
    }
}
