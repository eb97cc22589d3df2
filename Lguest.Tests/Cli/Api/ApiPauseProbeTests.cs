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
    /// <summary>More than the probe's eight receive buffers: a pause that lost the one its device held would run it dry.</summary>
    private const int Pauses = 12;

    /// <summary>
    /// Pauses while the garbage collector runs: more than the ~50 pause/resume pairs (about 100 requests) after which the
    /// NativeAOT launcher collected for the first time on its own in the bed run that hung, so the loop meets a
    /// collection even where the self-test's are not made.
    /// </summary>
    private const int PausesWhileCollecting = 60;

    /// <summary>Pairs after the self-test's first pass, while it collects every 50 ms: a few collections in each.</summary>
    private const int PausesAfterFirstPass = 20;

    /// <summary>The most pairs the loop waits for the self-test's first pass (about a second of collections): a bound, not a figure.</summary>
    private const int MaxPausesWhileCollecting = 2000;

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
        using var guest = EchoGuest.Start([]);
        guest.Echo(0);
        Assert.That(guest.Api.Send("PATCH", "/vm", """{"state": "Paused"}""").Status, Is.EqualTo(204), guest.Context());
        long ticks0 = ProcessCpu.Ticks(guest.Lguest.Id);
        Dictionary<string, long> threads0 = ProcessCpu.ThreadTicks(guest.Lguest.Id);
        byte[] sentWhilePaused = EthernetFrames.Pattern(100, 77);
        guest.Udp.Send(sentWhilePaused);
        bool answeredWhilePaused = guest.Udp.Poll((int)PausedFor.TotalMicroseconds, SelectMode.SelectRead);
        long spent = ProcessCpu.Ticks(guest.Lguest.Id) - ticks0;
        string busiest = ProcessCpu.Busiest(threads0, ProcessCpu.ThreadTicks(guest.Lguest.Id));
        (int status, string state) = guest.Api.Send("GET", "/");
        TestContext.Progress.WriteLine($"api pause (probe on this host's KVM): lguest spent {spent} clock ticks in a {PausedFor.TotalSeconds} s pause [{busiest}]");
        Assert.Multiple(() =>
        {
            Assert.That(answeredWhilePaused, Is.False, "a paused guest answers nothing");
            Assert.That(spent, Is.LessThanOrEqualTo(MaxPausedTicks), $"lguest's clock ticks while paused, by thread: {busiest}");
            Assert.That((status, state.Contains("\"state\":\"Paused\"", StringComparison.Ordinal)), Is.EqualTo((200, true)), state);
        });

        Assert.That(guest.Api.Send("PATCH", "/vm", """{"state": "Resumed"}""").Status, Is.EqualTo(204), guest.Context());
        var echoed = new byte[2048];
        int got = guest.Udp.Receive(echoed);
        Assert.That(echoed.AsSpan(0, got).ToArray(), Is.EqualTo(sentWhilePaused), "the datagram sent while paused comes back after the resume");

        for (int pair = 1; pair <= Pauses; pair++)
            guest.PauseResumeAndEcho(pair);
        Assert.That(guest.Stop(), Is.Zero, guest.Context());
    }

    /// <summary>
    /// Issue 18's pause that hung in the bed: with the system-call filter on (the default), a collection of the garbage
    /// collector stops every managed thread, and one that comes while vCPUs park or devices' workers stop and start must
    /// not stall the pause. Before the filter trapped (ef628c2) it asked a listener thread about a call outside the
    /// policy; the collection's getrlimit(RLIMIT_AS) was one, and the listener, a managed thread, waited for the collection
    /// to end: the guest froze with its vCPU parked and the resume's PATCH /vm unanswered (the old launcher here: at the
    /// 51st pair, every time; this loop on it: no answer to the 53rd resume). The self-test (LGUEST_SECCOMP_SELFTEST=gc)
    /// collects every 50 ms after its first pass, and the loop goes on past that.
    /// </summary>
    [Test]
    public void Pauses_and_resumes_while_the_garbage_collector_runs_under_the_filter_all_answer_and_the_network_works()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using var guest = EchoGuest.Start(["env", "LGUEST_SECCOMP_SELFTEST=gc"]);
        guest.Echo(0);
        // The first pass (its large object heap and compactions) ends at its own pace: the loop goes on until it has,
        // then for PausesAfterFirstPass pairs more.
        int pair = 0, afterFirstPass = 0;
        while (pair < PausesWhileCollecting || afterFirstPass < PausesAfterFirstPass)
        {
            Assert.That(pair, Is.LessThan(MaxPausesWhileCollecting), $"the self-test's first pass did not end\n{guest.Context()}");
            bool firstPassDone = guest.Lguest.Stderr.Contains("lguest: seccomp self-test: collections done", StringComparison.Ordinal);
            guest.PauseResumeAndEcho(++pair);
            if (firstPassDone)
                afterFirstPass++;
        }
        Assert.That(guest.Stop(), Is.Zero, guest.Context());
    }

    /// <summary>The probe's echo behind lguest --api-sock --tunnet in a namespace of its own, the API's client and a UDP socket to port 7.</summary>
    private sealed class EchoGuest : IDisposable
    {
        private const string HostIp = "10.0.3.1";
        private const string GuestIp = "10.0.3.2";

        private readonly NetworkNamespace _ns;
        private readonly TemporaryFolder _folder;

        private EchoGuest(NetworkNamespace ns, TemporaryFolder folder, LguestProcess lguest, HttpClient api)
        {
            _ns = ns;
            _folder = folder;
            Lguest = lguest;
            Api = api;
        }

        public LguestProcess Lguest { get; }

        public HttpClient Api { get; }

        public Socket Udp { get; private set; } = null!;

        /// <summary>Starts lguest inside the namespace, under <paramref name="wrapper"/> (a command such as env VAR=VALUE), and waits for the echo.</summary>
        public static EchoGuest Start(IReadOnlyList<string> wrapper)
        {
            NetworkNamespace ns = NetworkNamespace.CreateOrIgnore();
            var folder = new TemporaryFolder();
            string socketPath = Path.Combine(folder.Path, "api.sock");
            var lguest = LguestProcess.StartWrapped(["ip", "netns", "exec", ns.Name, .. wrapper], $"--api-sock={socketPath}",
                $"--tunnet={HostIp}/24", "64", GuestPrograms.Probe, "probe.only=virtio-net", $"probe.net-ip={GuestIp}", "probe.net-wait=120000");
            var guest = new EchoGuest(ns, folder, lguest, UnixSocketHttp.Client(socketPath));
            if (!lguest.WaitForLine(l => l.StartsWith("PROBE virtio-net ready", StringComparison.Ordinal)))
            {
                string context = guest.Context();
                guest.Dispose();
                Assert.Fail($"the probe's echo never became ready\n{context}");
            }
            // Bound once lguest has put the host's address on its tap.
            guest.Udp = ns.Run(() =>
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 30_000 };
                s.Bind(new IPEndPoint(IPAddress.Parse(HostIp), 0));
                s.Connect(new IPEndPoint(IPAddress.Parse(GuestIp), 7));
                return s;
            });
            return guest;
        }

        public string Context() => $"{string.Join('\n', Lguest.Stdout.TakeLast(20))}\n{Lguest.Stderr}";

        /// <summary>Sends datagram <paramref name="n"/> and checks that it comes back.</summary>
        public void Echo(int n)
        {
            byte[] payload = EthernetFrames.Pattern(64 + n % 1024, n); // within one frame whatever the count
            Udp.Send(payload);
            var back = new byte[2048];
            int length = 0;
            try
            {
                length = Udp.Receive(back);
            }
            catch (SocketException e)
            {
                Assert.Fail($"no echo {n} ({e.SocketErrorCode}): the guest's network did not outlive the pauses\n{Context()}");
            }
            Assert.That(back.AsSpan(0, length).ToArray(), Is.EqualTo(payload), $"echo {n}\n{Context()}");
        }

        /// <summary>Pair <paramref name="pair"/>: PATCH /vm Paused, then Resumed (each answered 204), then an echo.</summary>
        public void PauseResumeAndEcho(int pair)
        {
            Assert.That(Send(pair, "Paused"), Is.EqualTo(204), $"pause {pair}\n{Context()}");
            Assert.That(Send(pair, "Resumed"), Is.EqualTo(204), $"resume {pair}\n{Context()}");
            Echo(pair);
        }

        /// <summary>Asks the probe to stop (a datagram to port 9) and returns lguest's exit code.</summary>
        public int Stop()
        {
            Udp.SendTo("stop"u8, new IPEndPoint(IPAddress.Parse(GuestIp), 9));
            return Lguest.WaitForExit();
        }

        public void Dispose()
        {
            Udp?.Dispose();
            Api.Dispose();
            Lguest.Dispose();
            _folder.Dispose();
            _ns.Dispose();
        }

        // PATCH /vm; an answer that never comes (the client's 60 s) is a failure naming the pair, not a hung test.
        private int Send(int pair, string state)
        {
            try
            {
                return Api.Send("PATCH", "/vm", $$"""{"state": "{{state}}"}""").Status;
            }
            catch (TaskCanceledException)
            {
                Assert.Fail($"PATCH /vm {state} of pair {pair}: no answer within {Api.Timeout.TotalSeconds} s\n{Context()}");
                return 0;
            }
        }
    }
}
