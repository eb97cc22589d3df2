using System.Text;
using System.Text.RegularExpressions;
using Lguest.Devices;
using Lguest.Kvm;
using Lguest.Machine;
using Lguest.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Tests.Devices;

/// <summary>
/// The probe guest's virtio driver against our devices, through the whole launcher on this host's KVM:
/// PCI enumeration, the virtio PCI transport, the device workers on their ioeventfds, and the host side
/// (the image file, the console streams) checked here. The same probes pass under QEMU's devices
/// (see the probe's README), which is what shows the probe's driver follows the specification.
/// </summary>
[Category("Kvm")]
public partial class VirtioProbeTests
{
    private const string Sector0 = "LGUEST-DISK-SECTOR-0 of the host"; // 32 characters: what the probe prints

    private string _image = null!;

    [GeneratedRegex(@"^PROBE (virtio-\S+) (ok|fail) (.*)$")]
    private static partial Regex VirtioResult();

    [SetUp]
    public void CreateImage()
    {
        _image = Path.Combine(Path.GetTempPath(), $"lguest-probe-{Guid.NewGuid():N}.img");
        var bytes = new byte[1 << 20];
        Encoding.ASCII.GetBytes(Sector0).CopyTo(bytes, 0);
        File.WriteAllBytes(_image, bytes);
    }

    [TearDown]
    public void DeleteImage() => File.Delete(_image);

    private static (GuestExit Exit, Dictionary<string, (bool Ok, string Detail)> Results, string Uart) Boot(
        string only, Action<IServiceCollection> devices)
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        string probe = GuestPrograms.Probe;
        var uart = new MemoryStream();
        var services = new ServiceCollection();
        services.AddKvm();
        services.AddSingleton<IBootImage>(new KernelBootImage(probe, null, $"probe.only=pci,{only} probe.console-wait=5000"));
        services.AddLguest(o =>
        {
            o.MemoryBytes = 128UL << 20;
            o.NoReboot = true;
            o.ConsoleOutput = uart;
        });
        devices(services);
        GuestExit exit;
        using (ServiceProvider provider = services.BuildServiceProvider())
        using (var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
            exit = provider.GetRequiredService<Launcher>().Run(cancel.Token);
        string console = Encoding.ASCII.GetString(uart.ToArray());
        var results = console.Split('\n').Select(l => VirtioResult().Match(l.TrimEnd('\r'))).Where(m => m.Success)
            .ToDictionary(m => m.Groups[1].Value, m => (m.Groups[2].Value == "ok", m.Groups[3].Value));
        return (exit, results, console);
    }

    [Test]
    public void The_probe_writes_and_reads_the_disk_reads_the_rng_and_talks_on_the_console()
    {
        var consoleOutput = new MemoryStream();
        (GuestExit exit, Dictionary<string, (bool Ok, string Detail)> results, string uart) = Boot("virtio-blk,virtio-rng,virtio-console", s => s
            .AddVirtioBlock(o => { o.Path = _image; o.Serial = "LGUEST-PROBE"; })
            .AddVirtioRng()
            .AddVirtioConsole(o => { o.Input = new MemoryStream("ping\n"u8.ToArray()); o.Output = consoleOutput; }));

        Assert.That(exit.Kind, Is.EqualTo(GuestExitKind.PowerOff), uart);
        Assert.That(results.Keys, Is.EquivalentTo(new[] { "virtio-blk", "virtio-rng", "virtio-console" }), uart);
        Assert.That(results.Values.Select(r => r.Ok), Is.All.True, uart);

        Assert.That(results["virtio-blk"].Detail, Does.StartWith($"capacity 2048 serial \"LGUEST-PROBE\" sector0 \"{Sector0}\" wrote sector 1 read back equal"));
        byte[] image = File.ReadAllBytes(_image);
        Assert.That(Encoding.ASCII.GetString(image, 512, 31), Is.EqualTo("lguest probe wrote this sector."), "the guest's write reached the file");
        Assert.That(image[512 + 40], Is.EqualTo(unchecked((byte)(40 * 7 + 1))));

        Assert.That(results["virtio-rng"].Detail, Does.StartWith("32+32 bytes "));
        Assert.That(Encoding.ASCII.GetString(consoleOutput.ToArray()), Is.EqualTo("hello from the probe on virtio-console\r\n"));
        Assert.That(results["virtio-console"].Detail, Does.EndWith("received 5 \"ping.\""));
    }

    [Test]
    public void A_read_only_disk_refuses_the_probe_write_and_keeps_the_image()
    {
        (GuestExit exit, Dictionary<string, (bool Ok, string Detail)> results, string uart) = Boot("virtio-blk", s => s
            .AddVirtioBlock(_image, readOnly: true));
        Assert.That(exit.Kind, Is.EqualTo(GuestExitKind.PowerOff), uart);
        // The write gets VIRTIO_BLK_S_IOERR (1); the read-back then differs from what the probe meant to write.
        Assert.That(results["virtio-blk"].Ok, Is.False, uart);
        Assert.That(results["virtio-blk"].Detail, Does.Contain("read back different status 0/1/0/0/0"));
        Assert.That(File.ReadAllBytes(_image).AsSpan(512, 512).ToArray(), Is.All.Zero);
    }

    [Test]
    public void A_hostile_driver_breaks_only_its_own_device_which_works_again_after_a_reset()
    {
        (GuestExit exit, Dictionary<string, (bool Ok, string Detail)> results, string uart) = Boot("virtio-hostile,virtio-blk", s => s
            .AddVirtioRng()
            .AddVirtioBlock(_image));
        Assert.That(exit.Kind, Is.EqualTo(GuestExitKind.PowerOff), uart);
        // 0x4b: DEVICE_NEEDS_RESET with the driver's bits up to FEATURES_OK (the table is refused at
        // queue_enable); 0x4f: after DRIVER_OK (the worker found the bad buffer).
        Assert.That(results["virtio-hostile"], Is.EqualTo((true, "table-outside-ram status 0x4b, buffer-outside-ram status 0x4f, after reset 32 bytes")), uart);
        Assert.That(results["virtio-blk"].Ok, Is.True, uart);
    }
}
