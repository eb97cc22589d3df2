using System.Globalization;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Cli.Api;

/// <summary>
/// Firecracker's snapshot calls end to end on this host's KVM, with the probe guest writing numbered sectors to its disk
/// and flushing them (<c>probe.only=blk-durability</c>): PATCH /vm Paused and PUT /snapshot/create on one lguest, which
/// is then killed; in a new lguest --api-sock, PUT /drives (a copy of the disk) and PUT /snapshot/load without
/// resume_vm leave the guest paused, PATCH /vm Resumed, and the probe writes on from the sector it stood at.
/// </summary>
[Category("Kvm")]
public partial class ApiSnapshotProbeTests
{
    [GeneratedRegex(@"^PROBE flushed (\d+)$")]
    private static partial Regex Flushed();

    private static int LastFlushed(IEnumerable<string> lines) =>
        lines.Select(l => Flushed().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).LastOrDefault();

    [GeneratedRegex("\"state\":\"([^\"]*)\"")]
    private static partial Regex StateField();

    private static string State(HttpClient api) => StateField().Match(api.Send("GET", "/").Body).Groups[1].Value;

    [Test]
    public void A_guest_snapshotted_through_the_api_is_loaded_by_a_new_lguest_and_writes_on_where_it_stood()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using var folder = new TemporaryFolder();
        string image = Path.Combine(folder.Path, "disk.img"), copy = Path.Combine(folder.Path, "copy.img"), snap = Path.Combine(folder.Path, "snap");
        File.WriteAllBytes(image, new byte[4 << 20]);
        string first = Path.Combine(folder.Path, "first.sock"), second = Path.Combine(folder.Path, "second.sock");
        List<string> before;
        using (var lguest = LguestProcess.Start($"--api-sock={first}", "--block=" + image, "--no-reboot", "64", GuestPrograms.Probe,
            "probe.only=blk-durability", "probe.durability-batch=4"))
        using (HttpClient api = UnixSocketHttp.Client(first))
        {
            Assert.That(lguest.WaitForLine(l => LastFlushed([l]) >= 40), Is.True, lguest.Stderr);
            Assert.That(api.Send("PUT", "/snapshot/create", $$"""{"snapshot_path": "{{snap}}", "mem_file_path": "{{snap}}/mem"}"""),
                Is.EqualTo((400, """{"fault_message":"cannot snapshot: the machine is not paused (Running)"}""")));
            Assert.That(api.Send("PATCH", "/vm", """{"state": "Paused"}""").Status, Is.EqualTo(204));
            (int status, string body) = api.Send("PUT", "/snapshot/create", $$"""{"snapshot_path": "{{snap}}", "mem_file_path": "{{snap}}/mem", "snapshot_type": "Full"}""");
            Assert.That((status, body), Is.EqualTo((204, "")), lguest.Stderr);
            Assert.That(State(api), Is.EqualTo("Paused"), "the guest stays paused after the snapshot");
            // Read once the process is gone and its output read to the end: the pause wrote out everything the guest
            // wrote before it, but this side's reader of the pipe may still be behind when the calls return.
            lguest.Kill();
            before = [.. lguest.Stdout];
        }
        File.Copy(image, copy);

        using (var restored = LguestProcess.Start($"--api-sock={second}", "--no-reboot"))
        using (HttpClient api = UnixSocketHttp.Client(second))
        {
            Assert.That(SpinWait.SpinUntil(() => File.Exists(second), TimeSpan.FromMinutes(1)), Is.True, restored.Stderr);
            Assert.That(api.Send("PUT", "/drives/disk", $$"""{"drive_id": "disk", "path_on_host": "{{copy}}", "is_root_device": false}""").Status, Is.EqualTo(204));
            (int status, string body) = api.Send("PUT", "/snapshot/load",
                $$"""{"snapshot_path": "{{snap}}", "mem_backend": {"backend_type": "File", "backend_path": "{{snap}}/mem"}, "resume_vm": false}""");
            Assert.That((status, body), Is.EqualTo((204, "")), restored.Stderr);
            Assert.That(State(api), Is.EqualTo("Paused"), "loaded without resume_vm: paused");
            Thread.Sleep(500);
            Assert.That(LastFlushed(restored.Stdout), Is.Zero, "a paused guest writes nothing");
            Assert.That(api.Send("PATCH", "/vm", """{"state": "Resumed"}""").Status, Is.EqualTo(204));
            Assert.That(restored.WaitForLine(l => LastFlushed([l]) >= LastFlushed(before) + 20), Is.True,
                $"the loaded probe writes on\n{restored.Stderr}\n{string.Join('\n', restored.Stdout)}");
            // A line the guest was writing when it paused is split between the two processes ("PR", then "OBE flushed
            // 128"): nothing of it is lost, and its halves joined are the first report after the snapshot. The first
            // half may itself read as a report ("PROBE flushed 32" of 328, seen in CI): the second ("8") says it was not.
            string lastLine = before.Count > 0 ? before[^1] : "";
            bool split = restored.Stdout.Count > 0 && !Flushed().IsMatch(restored.Stdout[0]) && Flushed().IsMatch(lastLine + restored.Stdout[0]);
            int atSnapshot = LastFlushed(split ? before.SkipLast(1) : before);
            int firstAfter = split
                ? int.Parse(Flushed().Match(lastLine + restored.Stdout[0]).Groups[1].Value, CultureInfo.InvariantCulture)
                : restored.Stdout.Select(l => Flushed().Match(l)).Where(m => m.Success)
                    .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).First();
            Assert.That(api.Send("PUT", "/snapshot/load", $$"""{"snapshot_path": "{{snap}}", "mem_file_path": "{{snap}}/mem"}"""),
                Is.EqualTo((400, """{"fault_message":"The requested operation is not supported after starting the microVM."}""")));
            restored.Kill();
            // Its first report goes on from the last one before the snapshot (the next batch of 4), not from 1 as after a boot.
            Assert.That(firstAfter, Is.InRange(atSnapshot + 1, atSnapshot + 4),
                $"first flushed after the load {firstAfter}, last before the snapshot {atSnapshot}; the first process's last line " +
                $"\"{lastLine}\", the loaded one's first lines: {string.Join(" | ", restored.Stdout.Take(6).Select(l => $"\"{l}\""))}");
            TestContext.Progress.WriteLine($"api snapshot (probe on this host's KVM): created at flush {atSnapshot}, loaded, first flush after {firstAfter}");
        }
    }
}
