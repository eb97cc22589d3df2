using System.Globalization;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// Real Linux with a vsock device, in the nested bed (Lguest.Tests/Guests/vsock-l1.sh, one L1 boot, two L2 boots):
/// first under <c>lguest --vsock</c> with Firecracker's hybrid vsock on the host side (socat's CONNECT handshake,
/// <see cref="Mib"/> MiB each way on a host-initiated and a guest-initiated connection with MD5 on both sides, 64
/// connections at once, <see cref="Churn"/> one after another with lguest's descriptors, threads and memory measured
/// before and after, a guest that stops reading, connections cut by the guest's power-off); then under an embedder
/// with the in-process face (VsockHost: the same transfers, and the cut connections).
/// </summary>
/// <remarks>
/// CI runs the small sizes (4 MiB each way, 1,000 connections one after another: a few minutes on a quiet host; at
/// the issue's sizes the run took 36 min at load 50). Issue 16's proof, by hand:
/// <c>LGUEST_VSOCK_MIB=64 LGUEST_VSOCK_CHURN=10000 dotnet test Lguest.Tests -c Release --no-build --filter FullyQualifiedName~VsockBedTests</c>.
/// Each check still fails on its own at the small sizes: 4 MiB is sixteen windows of the device's credit each way,
/// and 1,000 connections leave 1,000 descriptors or threads behind if each leaked one.
/// </remarks>
[Category("Linux")]
public partial class VsockBedTests
{
    /// <summary>MiB each way per transfer; <c>LGUEST_VSOCK_MIB</c> sets it (a multiple of 4; the issue's proof: 64).</summary>
    private static readonly int Mib = Setting("LGUEST_VSOCK_MIB", 4);

    /// <summary>Connections opened and closed one after another; <c>LGUEST_VSOCK_CHURN</c> sets it (the issue's proof: 10,000).</summary>
    private static readonly int Churn = Setting("LGUEST_VSOCK_CHURN", 1000);

    // No ^ nor $: L1's console carries the guest's console and the bed's lines both, and one may land in the middle
    // of the other ("GUEST-VSOCK-G2H-RECEIVED <md5> 67108864 885.2BED-VSOCK-G2H-RECEIVED ...").
    [GeneratedRegex(@"(GUEST|BED)-VSOCK-(NET-)?(H2G|G2H)-(SENT|RECEIVED) ([0-9a-f]{32}) (\d+)")]
    private static partial Regex Transfer();

    // A bed line that starts inside a guest line: the guest's half line went out after lguest's 20 ms hold for its
    // newline (L2 writes slowly under emulation), and the rest came after the bed's line ("...-RECEIVED <md5> 419",
    // the bed's line, "4304": seen in CI).
    [GeneratedRegex(@"(?<=[^\n])BED-VSOCK-[^\n]*\n")]
    private static partial Regex BedLineInsideAnother();

    // Lifts every bed line out of the guest line it landed in, so the guest line's halves meet again; the lifted
    // lines go after the rest (they are looked for anywhere, not in order).
    private static string Unsplice(string console)
    {
        var lifted = new System.Text.StringBuilder();
        string joined = BedLineInsideAnother().Replace(console, m => { lifted.Append(m.Value); return ""; });
        return joined + "\n" + lifted;
    }

    [GeneratedRegex(@"BED-VSOCK-RESOURCES ([a-z-]+) fds (\d+) threads (\d+) rss_kib (\d+)")]
    private static partial Regex Resources();

    [Test]
    public void Linux_guests_move_data_over_vsock_through_both_host_faces_and_leave_nothing_behind()
    {
        NestedBed bed = NestedBed.OpenOrIgnore();
        LauncherBinary launcher = LauncherBinary.Current;
        TestContext.Out.WriteLine($"launcher: {launcher.Description}; {Mib} MiB each way, {Churn} connections one after another");
        string embedder = EmbedderCommand(bed);
        NestedBedRun run = bed.Run($"LGUEST={NestedBed.Quote(launcher.ShellCommand)} VSOCK_EMBEDDER={NestedBed.Quote(embedder)} "
            + $"Lguest.Tests/Guests/vsock-l1.sh {Mib} {Churn}", TimeSpan.FromMinutes(Mib > 16 || Churn > 2000 ? 60 : 20));
        string console = run.Console;
        int split = console.IndexOf("BED-VSOCK-PART embedder", StringComparison.Ordinal);
        Assert.That(split, Is.GreaterThan(0), run.ToString());
        string cli = Unsplice(console[..split]), inProcess = Unsplice(console[split..]);

        Assert.Multiple(() =>
        {
            // socat speaks the handshake of Firecracker's docs/vsock.md.
            Assert.That(cli, Does.Match(@"BED-VSOCK-SOCAT OK \d+"), "socat's CONNECT gets OK <port>");
            Assert.That(cli, Does.Contain("BED-VSOCK-SOCAT-ECHO hello over vsock"));
            CheckTransfers(cli, "", "the Unix-socket face");
            CheckTransfers(inProcess, "NET-", "the in-process face");
            Assert.That(cli, Does.Match(@"BED-VSOCK-MANY 64 64 "), "64 connections at once, each its own data");
            Assert.That(cli, Does.Match($@"BED-VSOCK-CHURN {Churn} {Churn} "), $"{Churn} connections one after another");
            foreach (string cut in new[] { "read", "write", "accepted" })
            {
                Assert.That(cli, Does.Match($@"BED-VSOCK-CUT {cut} exit (0|1)(?!\d)"), $"a host program's connection cut by the power-off ({cut}): end of file or a reset, no hang");
                Assert.That(inProcess, Does.Match($@"BED-VSOCK-NET-CUT {cut} (eof|reset) \d+"), $"a program's stream cut by the power-off ({cut})");
            }
            Assert.That(cli, Does.Contain("BED-VSOCK-LGUEST-EXIT 0"));
            Assert.That(cli, Does.Contain("BED-VSOCK-SOCKET removed"), "the socket file goes with lguest");
            Assert.That(inProcess, Does.Contain("BED-VSOCK-NET-EXIT PowerOff"));
            Assert.That(inProcess, Does.Contain("BED-VSOCK-EMBEDDER-EXIT 0"));
        });

        // Flat after the connections one after another and after a guest that stopped reading: descriptors, threads, memory.
        Dictionary<string, (int Fds, int Threads, int RssKib)> resources = Resources().Matches(cli).ToDictionary(
            m => m.Groups[1].Value, m => (Int(m.Groups[2]), Int(m.Groups[3]), Int(m.Groups[4])));
        Assert.That(resources.Keys, Is.SupersetOf(new[] { "before-churn", "after-churn", "before-stall", "after-stall" }), run.ToString());
        var (beforeChurn, afterChurn) = (resources["before-churn"], resources["after-churn"]);
        var (beforeStall, afterStall) = (resources["before-stall"], resources["after-stall"]);
        long blast = long.Parse(Regex.Match(cli, @"BED-VSOCK-BLAST (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        TestContext.Out.WriteLine($"{Churn} connections: fds {beforeChurn.Fds} -> {afterChurn.Fds}, threads {beforeChurn.Threads} -> {afterChurn.Threads}, "
            + $"RSS {beforeChurn.RssKib} -> {afterChurn.RssKib} KiB; a guest that does not read: the host wrote {blast} bytes in 10 s, "
            + $"RSS {beforeStall.RssKib} -> {afterStall.RssKib} KiB");
        Assert.Multiple(() =>
        {
            Assert.That(afterChurn.Fds, Is.LessThanOrEqualTo(beforeChurn.Fds + 2), $"descriptors after {Churn} connections");
            Assert.That(afterChurn.Threads, Is.LessThanOrEqualTo(beforeChurn.Threads + 4), $"threads after {Churn} connections");
            // 16 MiB: the runtime's heap and code settling (+7.5 MiB after 10,000 at load 50); it catches a leak of
            // 16 KiB per connection at 1,000 (a connection's 256 KiB transmit ring kept by each: 250 MiB).
            Assert.That(afterChurn.RssKib, Is.LessThanOrEqualTo(beforeChurn.RssKib + 16 * 1024), $"resident memory after {Churn} connections");
            Assert.That(afterStall.RssKib, Is.LessThanOrEqualTo(beforeStall.RssKib + 4 * 1024), "resident memory while the host writes to a guest that does not read");
            // The host's writes stop at its socket's buffer plus the guest's 256 KiB of credit: the writer blocks.
            Assert.That(blast, Is.LessThan(4L << 20), "bytes a host program could write to a guest that does not read");
        });
    }

    // Each transfer's MD5 on the sending side equals the other side's on receiving, and every byte arrived.
    private static void CheckTransfers(string console, string face, string what)
    {
        var seen = Transfer().Matches(console).Where(m => m.Groups[2].Value == face || m.Groups[1].Value == "GUEST")
            .ToDictionary(m => $"{m.Groups[1].Value}-{m.Groups[3].Value}-{m.Groups[4].Value}", m => (Md5: m.Groups[5].Value, Bytes: long.Parse(m.Groups[6].Value, CultureInfo.InvariantCulture)));
        long bytes = (long)Mib << 20;
        foreach (string transfer in new[] { "H2G", "G2H" })
        {
            string name = $"{what}, {(transfer == "H2G" ? "a host-initiated" : "a guest-initiated")} connection";
            Assert.That(seen.Keys, Is.SupersetOf(new[] { $"GUEST-{transfer}-SENT", $"GUEST-{transfer}-RECEIVED", $"BED-{transfer}-SENT", $"BED-{transfer}-RECEIVED" }), name);
            if (!seen.ContainsKey($"BED-{transfer}-SENT") || !seen.ContainsKey($"GUEST-{transfer}-SENT"))
                continue;
            Assert.That(seen[$"GUEST-{transfer}-RECEIVED"], Is.EqualTo(seen[$"BED-{transfer}-SENT"]), $"{name}: host to guest");
            Assert.That(seen[$"BED-{transfer}-RECEIVED"], Is.EqualTo(seen[$"GUEST-{transfer}-SENT"]), $"{name}: guest to host");
            Assert.That(seen[$"BED-{transfer}-SENT"].Bytes, Is.EqualTo(bytes), name);
        }
    }

    private static int Int(Group group) => int.Parse(group.Value, CultureInfo.InvariantCulture);

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out int value) && value > 0 ? value : fallback;

    // The embedder from this build's output (Release, else Debug), as L1 runs it.
    private static string EmbedderCommand(NestedBed bed)
    {
        foreach (string configuration in new[] { "Release", "Debug" })
        {
            string dll = Path.Combine(bed.GuestsDirectory, "VsockEmbedder", "bin", configuration, "net10.0", "VsockEmbedder.dll");
            if (File.Exists(dll))
                return $"dotnet {NestedBed.Quote(dll)}";
        }
        Assert.Ignore("VsockEmbedder is not built (dotnet build Lguest.NET.sln)");
        return "";
    }
}
