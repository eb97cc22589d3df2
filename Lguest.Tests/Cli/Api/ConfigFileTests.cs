using System.Text;
using Lguest.Cli;
using Lguest.Cli.Api;
using Lguest.Tests.Support;

namespace Lguest.Tests.Cli.Api;

/// <summary>--config-file in Firecracker's format: the same resources and checks as the API calls.</summary>
public class ConfigFileTests
{
    [Test]
    public void A_firecracker_config_file_configures_the_run()
    {
        using var folder = new TemporaryFolder();
        string kernel = folder.Write("vmlinux", new byte[16]), rootfs = folder.Write("rootfs.ext4", new byte[16]);
        var machine = new ApiMachine(new RunArguments { Verbose = true });
        string? fault = ConfigFile.Apply(Encoding.UTF8.GetBytes($$"""
            {
              "boot-source": { "kernel_image_path": "{{kernel}}", "boot_args": "console=ttyS0 reboot=k panic=1 pci=off" },
              "drives": [ { "drive_id": "rootfs", "path_on_host": "{{rootfs}}", "is_root_device": true, "is_read_only": false } ],
              "network-interfaces": [ { "iface_id": "eth0", "host_dev_name": "lo" } ],
              "machine-config": { "vcpu_count": 2, "mem_size_mib": 1024 }
            }
            """), machine);
        Assert.That(fault, Is.Null);
        RunArguments run = machine.ToRunArguments();
        Assert.That((run.Kernel, run.Memory, run.Cpus, run.Verbose, run.CommandLine), Is.EqualTo((kernel, "1024", 2, true, "console=ttyS0 reboot=k panic=1 root=/dev/vda rw")));
        Assert.That(run.Devices.Select(d => d.Kind), Is.EqualTo(new[] { DeviceKind.Block, DeviceKind.Tap }));
    }

    [TestCase("""{"boot-source": {"kernel_image_path": "/etc/hostname"}, "balloon": {"amount_mib": 1, "deflate_on_oom": true}}""", "unknown field `balloon`")]
    [TestCase("""{"drives": []}""", "boot-source: missing")]
    [TestCase("""{"boot-source": {"kernel_image_path": "/nonexistent"}}""", "boot-source: The kernel file cannot be opened")]
    [TestCase("""{"boot-source": {"kernel_image_path": "/etc/hostname"}, "drives": [{"drive_id": "a-b", "path_on_host": "/etc/hostname", "is_root_device": true}]}""", "drives 'a-b': API Resource IDs")]
    [TestCase("""{"boot-source": {"kernel_image_path": "/etc/hostname"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 128, "smt": true}}""", "machine-config: Enabling simultaneous multithreading")]
    public void A_config_file_lguest_cannot_follow_is_refused_naming_what(string json, string fault)
    {
        var machine = new ApiMachine(new RunArguments());
        Assert.That(ConfigFile.Apply(Encoding.UTF8.GetBytes(json), machine), Does.Contain(fault));
    }

    [Test]
    public void A_file_that_is_not_there_is_refused()
    {
        Assert.That(ConfigFile.Apply("/nonexistent/vm.json", new ApiMachine(new RunArguments())), Is.EqualTo("no such file"));
    }
}
