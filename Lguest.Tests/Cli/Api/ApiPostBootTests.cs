using System.Text.Json;
using Lguest.Cli;
using Lguest.Cli.Api;
using Lguest.DevLguest;
using Lguest.Machine;
using Lguest.Tests.Support;

namespace Lguest.Tests.Cli.Api;

/// <summary>
/// The API on a started machine (the /dev/lguest backend played by the Host simulator): PATCH /vm pauses and resumes
/// it, GET / follows, the launcher's state rules come back as faults, and configuration calls are refused.
/// </summary>
public class ApiPostBootTests
{
    private sealed class Started : IAsyncDisposable
    {
        private readonly LguestHypervisor _hypervisor;
        private readonly Task<GuestExit> _run;

        private Started(ApiTestServer api, LguestHypervisor hypervisor, Launcher launcher, Task<GuestExit> run)
        {
            Api = api;
            _hypervisor = hypervisor;
            Launcher = launcher;
            _run = run;
        }

        public ApiTestServer Api { get; }

        public Launcher Launcher { get; }

        public static async Task<Started> StartAsync()
        {
            var host = new LguestHostSimulator();
            for (int i = 0; i < 64; i++)
                host.BlockUntilKicked();
            var hypervisor = new LguestHypervisor(() => host);
            var launcher = new Launcher(hypervisor, new TestMachine.EntryImage(null),
                new LauncherOptions { MemoryBytes = TestMachine.RamBytes, NoReboot = true }, profile: MachineProfile.Lguest);
            var machine = new ApiMachine(new RunArguments());
            machine.MarkStarted();
            machine.Attach(launcher);
            Task<GuestExit> run = launcher.RunAsync();
            Assert.That(SpinWait.SpinUntil(() => launcher.State == MachineState.Running, TimeSpan.FromMinutes(1)), Is.True);
            return new Started(await ApiTestServer.StartAsync(machine), hypervisor, launcher, run);
        }

        public async Task<string> StateAsync()
        {
            using HttpResponseMessage response = await Api.SendAsync(HttpMethod.Get, "/");
            using JsonDocument info = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return info.RootElement.GetProperty("state").GetString()!;
        }

        public async ValueTask DisposeAsync()
        {
            Launcher.Stop();
            await _run;
            Launcher.Dispose();
            _hypervisor.Dispose();
            await Api.DisposeAsync();
        }
    }

    [Test]
    public async Task Patch_vm_pauses_and_resumes_the_guest_and_get_root_follows()
    {
        await using Started vm = await Started.StartAsync();
        Assert.That(await vm.StateAsync(), Is.EqualTo("Running"));
        await ApiTestServer.ExpectNoContent(vm.Api.PatchAsync("/vm", """{"state": "Paused"}"""));
        Assert.That((vm.Launcher.State, await vm.StateAsync()), Is.EqualTo((MachineState.Paused, "Paused")));
        await ApiTestServer.ExpectNoContent(vm.Api.PatchAsync("/vm", """{"state": "Resumed"}"""));
        Assert.That((vm.Launcher.State, await vm.StateAsync()), Is.EqualTo((MachineState.Running, "Running")));
    }

    [Test]
    public async Task Snapshot_create_is_refused_while_running_and_the_backend_s_refusal_comes_back_while_paused()
    {
        await using Started vm = await Started.StartAsync();
        string create = $$"""{"snapshot_path": "{{Path.Combine(Path.GetDirectoryName(vm.Api.SocketPath)!, "s")}}", "mem_file_path": "/tmp/m"}""";
        Assert.That(await ApiTestServer.ExpectFault(vm.Api.PutAsync("/snapshot/create", create)),
            Is.EqualTo("cannot snapshot: the machine is not paused (Running)"));
        await ApiTestServer.ExpectNoContent(vm.Api.PatchAsync("/vm", """{"state": "Paused"}"""));
        // The Host simulator's /dev/lguest machine takes no part in snapshots: the backend says so, the guest stays paused.
        Assert.That(await ApiTestServer.ExpectFault(vm.Api.PutAsync("/snapshot/create", create)), Does.StartWith("Cannot create the snapshot: "));
        Assert.That(vm.Launcher.State, Is.EqualTo(MachineState.Paused));
        Assert.That(await ApiTestServer.ExpectFault(vm.Api.PutAsync("/snapshot/load",
            """{"snapshot_path": "/tmp/s", "mem_backend": {"backend_type": "File", "backend_path": "/tmp/m"}}""")), Is.EqualTo(ApiMachine.NotSupportedPostBoot));
    }

    [Test]
    public async Task The_launcher_s_state_rules_come_back_as_faults_and_change_nothing()
    {
        await using Started vm = await Started.StartAsync();
        Assert.That(await ApiTestServer.ExpectFault(vm.Api.PatchAsync("/vm", """{"state": "Resumed"}""")),
            Is.EqualTo("cannot resume: the machine is not paused (Running)"));
        await ApiTestServer.ExpectNoContent(vm.Api.PatchAsync("/vm", """{"state": "Paused"}"""));
        Assert.That(await ApiTestServer.ExpectFault(vm.Api.PatchAsync("/vm", """{"state": "Paused"}""")),
            Is.EqualTo("cannot pause: the machine is not running (Paused)"));
        Assert.That(await ApiTestServer.ExpectFault(vm.Api.PutAsync("/actions", """{"action_type": "SendCtrlAltDel"}""")),
            Is.EqualTo("cannot request a shutdown: the lguest machine has no power button"));
        Assert.That(vm.Launcher.State, Is.EqualTo(MachineState.Paused));
    }

    [TestCase("/boot-source", """{"kernel_image_path": "/etc/hostname"}""")]
    [TestCase("/machine-config", """{"vcpu_count": 1, "mem_size_mib": 128}""")]
    [TestCase("/drives/rootfs", """{"drive_id": "rootfs", "path_on_host": "/etc/hostname", "is_root_device": true}""")]
    [TestCase("/network-interfaces/eth0", """{"iface_id": "eth0", "host_dev_name": "lo"}""")]
    [TestCase("/vsock", """{"guest_cid": 3, "uds_path": "/tmp/v.sock"}""")]
    [TestCase("/entropy", "{}")]
    [TestCase("/actions", """{"action_type": "InstanceStart"}""")]
    public async Task A_pre_boot_call_after_the_start_is_refused(string path, string body)
    {
        await using Started vm = await Started.StartAsync();
        Assert.That(await ApiTestServer.ExpectFault(vm.Api.PutAsync(path, body)), Is.EqualTo(ApiMachine.NotSupportedPostBoot));
        Assert.That(vm.Launcher.State, Is.EqualTo(MachineState.Running), "the guest is unaffected");
    }
}
