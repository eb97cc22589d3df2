using Lguest.Cli;
using Lguest.Cli.Api;
using Lguest.Hypervisor;
using Lguest.Machine;
using Lguest.Memory;
using Lguest.Snapshot;

namespace Lguest.Tests.Cli.Api;

/// <summary>
/// PUT /snapshot/create and PUT /snapshot/load, their state rules and refusals: create only after the start and only
/// while paused; load only before the start, before the machine or boot source is configured, with exactly one memory
/// field, File only, and a snapshot that reads back; a load hands the run a restore of the directory with the devices
/// configured so far, paused unless resume_vm (create on a started machine: ApiPostBootTests). The end to end proof (a real guest snapshotted and loaded in a new
/// process) is ApiSnapshotProbeTests'.
/// </summary>
public class ApiSnapshotTests
{
    private const string Deserializing = "An error occurred when deserializing the json body of a request: ";

    private static string Load(string dir, string extra = "") =>
        $$"""{"snapshot_path": "{{dir}}", "mem_backend": {"backend_type": "File", "backend_path": "{{dir}}/mem"}{{extra}}}""";

    // A snapshot that reads back (MachineSnapshot.Read): its machine, VM and vCPU records and 16 MiB of RAM.
    private static string WriteSnapshot(ApiTestServer api)
    {
        string dir = Path.Combine(Path.GetDirectoryName(api.SocketPath)!, "snap");
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(16 << 20));
        SnapshotDirectory.Write(dir, memory,
        [
            new(MachineSnapshot.SectionName, new MachineSnapshot("pc", 1, 16 << 20).Encode()),
            new("vm", BackendStateRecord.Encode(new BackendState("kvm", [new("clock", new byte[48])]))),
            new("vcpu/0", BackendStateRecord.Encode(new BackendState("kvm", [new("regs", new byte[144])]))),
        ]);
        return dir;
    }

    [Test]
    public async Task Create_before_the_start_is_refused()
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/snapshot/create", """{"snapshot_path": "/tmp/s", "mem_file_path": "/tmp/m"}""")),
            Is.EqualTo(ApiMachine.NotSupportedPreBoot));
    }

    [TestCase("""{"snapshot_path": "/tmp/s", "mem_file_path": "/tmp/m", "snapshot_type": "Diff"}""", "Diff snapshots are not supported by lguest: its snapshots are full.")]
    [TestCase("""{"snapshot_path": "/tmp/s", "mem_file_path": "/tmp/m", "snapshot_type": "Half"}""", "Unknown snapshot_type 'Half': expected Full or Diff.")]
    [TestCase("""{"snapshot_path": "", "mem_file_path": "/tmp/m"}""", "The snapshot_path is empty.")]
    [TestCase("""{"snapshot_path": "/tmp/s"}""", Deserializing + "missing field `mem_file_path`.")]
    [TestCase("""{"snapshot_path": "/tmp/s", "mem_file_path": "/tmp/m", "version": "1.0"}""", Deserializing + "unknown field `version`.")]
    public async Task A_create_lguest_cannot_take_is_refused(string body, string fault)
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/snapshot/create", body)), Is.EqualTo(fault));
    }

    [TestCase(""", "mem_file_path": "/tmp/m" """, "too many fields: either `mem_backend` or `mem_file_path` exclusively is required.")]
    [TestCase(""", "track_dirty_pages": true""", "Dirty page tracking is not supported by lguest.")]
    [TestCase(""", "enable_diff_snapshots": true""", "Dirty page tracking is not supported by lguest.")]
    [TestCase(""", "clock_realtime": true""", "clock_realtime is not supported by lguest: kvmclock goes on from the snapshot's time.")]
    [TestCase(""", "network_overrides": [{"iface_id": "eth0", "host_dev_name": "lo"}]""",
        "The network interface 'eth0' to override is not configured: PUT /network-interfaces/eth0 before the load.")]
    [TestCase(""", "vsock_override": {"uds_path": "/tmp/v.sock"}""", "There is no vsock device to override: PUT /vsock before the load.")]
    public async Task A_load_lguest_cannot_do_is_refused_and_the_machine_can_still_be_configured(string extra, string fault)
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        string dir = WriteSnapshot(api);
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/snapshot/load", Load(dir, extra))), Is.EqualTo(fault));
        await ApiTestServer.ExpectNoContent(api.PutAsync("/boot-source", $$"""{"kernel_image_path": "{{api.File()}}"}"""));
    }

    [Test]
    public async Task A_load_needs_exactly_one_memory_field_and_a_file_backend()
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        string dir = WriteSnapshot(api);
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/snapshot/load", $$"""{"snapshot_path": "{{dir}}"}""")),
            Is.EqualTo("missing field: either `mem_backend` or `mem_file_path` is required."));
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/snapshot/load",
            $$$"""{"snapshot_path": "{{{dir}}}", "mem_backend": {"backend_type": "Uffd", "backend_path": "/tmp/uffd.sock"}}""")),
            Is.EqualTo("The Uffd memory backend is not supported by lguest: use File."));
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/snapshot/load",
            $$$"""{"snapshot_path": "{{{dir}}}", "mem_backend": {"backend_type": "Disk", "backend_path": "/tmp/m"}}""")),
            Is.EqualTo("Unknown backend_type 'Disk': expected File or Uffd."));
    }

    [Test]
    public async Task A_load_of_a_snapshot_that_is_missing_or_damaged_is_refused_with_why()
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        string dir = WriteSnapshot(api);
        string missing = Path.Combine(dir, "nothing");
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/snapshot/load", Load(missing))),
            Is.EqualTo($"The snapshot '{missing}' is not a directory (lguest's snapshots are the directories PUT /snapshot/create writes)."));
        foreach (string file in Directory.GetFiles(dir))
            File.WriteAllBytes(file, [1, 2, 3]);
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/snapshot/load", Load(dir))), Does.StartWith("Cannot load the snapshot: "));
    }

    [TestCase("/boot-source", """{"kernel_image_path": "FILE"}""")]
    [TestCase("/machine-config", """{"vcpu_count": 1, "mem_size_mib": 128}""")]
    public async Task A_load_after_the_boot_source_or_machine_is_configured_is_refused(string path, string body)
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        string dir = WriteSnapshot(api);
        await ApiTestServer.ExpectNoContent(api.PutAsync(path, body.Replace("FILE", api.File(), StringComparison.Ordinal)));
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/snapshot/load", Load(dir))), Is.EqualTo(ApiMachine.LoadNotAllowed));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task A_load_hands_the_run_a_restore_with_the_configured_devices_paused_unless_resume_vm(bool resume)
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        string dir = WriteSnapshot(api);
        string disk = api.File("disk.img");
        await ApiTestServer.ExpectNoContent(api.PutAsync("/drives/rootfs", $$"""{"drive_id": "rootfs", "path_on_host": "{{disk}}", "is_root_device": true}"""));
        await ApiTestServer.ExpectNoContent(api.PutAsync("/vsock", $$"""{"guest_cid": 3, "uds_path": "{{dir}}/old.sock"}"""));
        Task<HttpResponseMessage> load = api.PutAsync("/snapshot/load",
            Load(dir, $$""", "resume_vm": {{(resume ? "true" : "false")}}, "vsock_override": {"uds_path": "{{dir}}/v.sock"}"""));
        RunArguments run = await api.Machine.StartRequested.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Multiple(() =>
        {
            Assert.That((run.Restore, run.RestorePaused, run.HasKernel), Is.EqualTo((dir, !resume, false)));
            Assert.That(run.Devices.Select(d => (d.Kind, d.Value)),
                Is.EqualTo(new[] { (DeviceKind.Block, (string?)disk), (DeviceKind.Vsock, $"{dir}/v.sock") }), "the devices in a run's order, the override applied");
            Assert.That(load.IsCompleted, Is.False, "the load answers once the guest runs (or is paused), or failed to");
        });
        api.Machine.FailStart("the snapshot was taken with other devices");
        Assert.That(await ApiTestServer.ExpectFault(load), Is.EqualTo("the snapshot was taken with other devices"));
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/snapshot/load", Load(dir))), Is.EqualTo(ApiMachine.NotSupportedPostBoot));
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/drives/b", $$"""{"drive_id": "b", "path_on_host": "{{disk}}", "is_root_device": false}""")),
            Is.EqualTo(ApiMachine.NotSupportedPostBoot));
    }
}
