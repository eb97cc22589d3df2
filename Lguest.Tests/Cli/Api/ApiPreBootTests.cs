using System.Text.Json;
using Lguest.Cli;
using Lguest.Cli.Api;
using Lguest.Devices;

namespace Lguest.Tests.Cli.Api;

/// <summary>The configuration endpoints before InstanceStart: each accepted call, and the run it configures.</summary>
public class ApiPreBootTests
{
    [Test]
    public async Task Get_root_describes_an_instance_not_started()
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        using HttpResponseMessage response = await api.SendAsync(HttpMethod.Get, "/");
        using JsonDocument info = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.That(((int)response.StatusCode, info.RootElement.GetProperty("state").GetString(), info.RootElement.GetProperty("id").GetString(),
            info.RootElement.GetProperty("app_name").GetString()), Is.EqualTo((200, "Not started", "anonymous-instance", "lguest")));
    }

    [Test]
    public async Task Machine_config_is_firecracker_s_default_until_put_and_patch_change_it()
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        Assert.That(await (await api.SendAsync(HttpMethod.Get, "/machine-config")).Content.ReadAsStringAsync(),
            Is.EqualTo("""{"vcpu_count":1,"mem_size_mib":128,"smt":false,"track_dirty_pages":false}"""));
        await ApiTestServer.ExpectNoContent(api.PutAsync("/machine-config", """{"vcpu_count": 2, "mem_size_mib": 256}"""));
        await ApiTestServer.ExpectNoContent(api.PatchAsync("/machine-config", """{"mem_size_mib": 512}"""));
        Assert.That(api.Machine.MachineConfig, Is.EqualTo(new MachineConfiguration(2, 512)));
    }

    [Test]
    public async Task The_getting_started_sequence_configures_the_run_with_root_on_the_first_disk()
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        string kernel = api.File("vmlinux"), rootfs = api.File("rootfs.ext4"), data = api.File("data.img");
        await ApiTestServer.ExpectNoContent(api.PutAsync("/boot-source",
            $$"""{"kernel_image_path": "{{kernel}}", "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"}"""));
        await ApiTestServer.ExpectNoContent(api.PutAsync("/drives/data",
            $$"""{"drive_id": "data", "path_on_host": "{{data}}", "is_root_device": false, "is_read_only": true, "io_engine": "Sync"}"""));
        await ApiTestServer.ExpectNoContent(api.PutAsync("/drives/rootfs",
            $$"""{"drive_id": "rootfs", "path_on_host": "{{rootfs}}", "is_root_device": true, "is_read_only": false}"""));
        await ApiTestServer.ExpectNoContent(api.PutAsync("/network-interfaces/eth0",
            """{"iface_id": "eth0", "host_dev_name": "lo", "guest_mac": "06:00:AC:10:00:02"}"""));
        await ApiTestServer.ExpectNoContent(api.PutAsync("/entropy", "{}"));

        RunArguments run = api.Machine.ToRunArguments();
        Assert.That((run.Kernel, run.Memory, run.Cpus), Is.EqualTo((kernel, "128", 1)));
        Assert.That(run.CommandLine, Is.EqualTo("console=ttyS0 reboot=k panic=1 root=/dev/vda rw"), "pci=off dropped: lguest's devices are on PCI");
        Assert.That(run.Devices, Is.EqualTo(new[]
        {
            new DeviceOption(DeviceKind.Block, rootfs),
            new DeviceOption(DeviceKind.Block, data, ReadOnly: true, IoEngine: VirtioBlockIoEngine.Sync),
            new DeviceOption(DeviceKind.Tap, "lo", Mac: MacAddress.Parse("06:00:ac:10:00:02")),
            new DeviceOption(DeviceKind.Rng, null),
        }));
    }

    [Test]
    public async Task A_second_put_of_a_drive_replaces_it_and_partuuid_names_the_root()
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        await ApiTestServer.ExpectNoContent(api.PutAsync("/boot-source", $$"""{"kernel_image_path": "{{api.File()}}"}"""));
        await ApiTestServer.ExpectNoContent(api.PutAsync("/drives/root", $$"""{"drive_id": "root", "path_on_host": "{{api.File("a")}}", "is_root_device": true}"""));
        await ApiTestServer.ExpectNoContent(api.PutAsync("/drives/root",
            $$"""{"drive_id": "root", "path_on_host": "{{api.File("b")}}", "is_root_device": true, "is_read_only": true, "partuuid": "0eaa91a0-01"}"""));
        RunArguments run = api.Machine.ToRunArguments();
        Assert.That(run.Devices.Select(d => d.Value), Is.EqualTo(new[] { api.File("b") }));
        Assert.That(run.CommandLine, Is.EqualTo($"{BootSource.DefaultBootArgs} root=PARTUUID=0eaa91a0-01 ro"));
    }

    [Test]
    public async Task A_vsock_becomes_the_run_s_vsock_device()
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        await ApiTestServer.ExpectNoContent(api.PutAsync("/boot-source", $$"""{"kernel_image_path": "{{api.File()}}"}"""));
        string uds = Path.Combine(Path.GetDirectoryName(api.SocketPath)!, "v.sock");
        await ApiTestServer.ExpectNoContent(api.PutAsync("/vsock", $$"""{"guest_cid": 7, "uds_path": "{{uds}}"}"""));
        Assert.That(api.Machine.ToRunArguments().Devices, Is.EqualTo(new[] { new DeviceOption(DeviceKind.Vsock, uds, GuestCid: 7) }));
    }

    [Test]
    public async Task InstanceStart_hands_the_run_over_and_answers_when_it_failed_to_start()
    {
        await using ApiTestServer api = await ApiTestServer.StartAsync();
        await ApiTestServer.ExpectNoContent(api.PutAsync("/boot-source", $$"""{"kernel_image_path": "{{api.File()}}"}"""));
        Task<HttpResponseMessage> start = api.PutAsync("/actions", """{"action_type": "InstanceStart"}""");
        RunArguments run = await api.Machine.StartRequested.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(run.Kernel, Is.EqualTo(api.File()));
        Assert.That(start.IsCompleted, Is.False, "InstanceStart answers once the guest runs, or failed to");
        api.Machine.FailStart("cannot open /dev/kvm: no such device");
        Assert.That(await ApiTestServer.ExpectFault(start), Is.EqualTo("cannot open /dev/kvm: no such device"));
        Assert.That(await ApiTestServer.ExpectFault(api.PutAsync("/actions", """{"action_type": "InstanceStart"}""")), Is.EqualTo(ApiMachine.NotSupportedPostBoot));
    }
}
