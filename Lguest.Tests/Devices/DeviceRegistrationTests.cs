using Lguest.Devices;
using Lguest.Hypervisor;
using Lguest.Machine;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Platform;
using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;

namespace Lguest.Tests.Devices;

/// <summary>Devices as DI plugins: one call one device, registration order is slot order, a third-party device the same way.</summary>
public class DeviceRegistrationTests
{
    private string _image = null!;

    [SetUp]
    public void CreateImage()
    {
        _image = Path.Combine(Path.GetTempPath(), $"lguest-reg-{Guid.NewGuid():N}.img");
        File.WriteAllBytes(_image, new byte[1 << 20]);
    }

    [TearDown]
    public void DeleteImage() => File.Delete(_image);

    [Test]
    public void Each_call_adds_one_device_factory_in_registration_order()
    {
        var services = new ServiceCollection();
        services.AddVirtioConsole(o => { o.Input = Stream.Null; o.Output = Stream.Null; })
            .AddVirtioBlock(_image, readOnly: true)
            .AddVirtioRng()
            .AddEcho()
            .AddVirtioBlock(o => { o.Path = _image; o.ReadOnly = true; });
        using ServiceProvider provider = services.BuildServiceProvider();
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        IVirtioDevice[] devices = provider.GetServices<IVirtioDeviceFactory>().Select(f => f.Create(memory)).ToArray();
        Assert.That(devices.Select(d => (d.DeviceType, d.Name)), Is.EqualTo(new[]
        {
            (VirtioDeviceType.Console, "console"),
            (VirtioDeviceType.Block, "block0"),
            (VirtioDeviceType.Entropy, "rng"),
            (EchoDevice.EchoType, "echo"),
            (VirtioDeviceType.Block, "block1"),
        }));
    }

    [Test]
    public void Bad_options_are_refused_when_the_device_is_added_naming_the_option()
    {
        var services = new ServiceCollection();
        Assert.That(() => services.AddVirtioBlock(""), Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("Path"));
        Assert.That(() => services.AddVirtioRng(o => o.QueueSize = 3), Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("QueueSize"));
        Assert.That(() => services.AddVirtioConsole(o => { o.Input = Stream.Null; o.InputReader = System.IO.Pipelines.PipeReader.Create(Stream.Null); }),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("InputReader"));
        Assert.That(services, Is.Empty);
    }

    [Test]
    public void A_missing_disk_image_is_reported_at_the_first_boot_as_a_disk_image_error()
    {
        using ServiceProvider provider = new ServiceCollection().AddVirtioBlock(_image + ".gone").BuildServiceProvider();
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        IVirtioDeviceFactory factory = provider.GetRequiredService<IVirtioDeviceFactory>();
        Assert.That(() => factory.Create(memory), Throws.TypeOf<DiskImageException>());
    }

    [Test]
    public void The_launcher_wiring_puts_the_virtio_devices_on_PCI_bus_0_in_registration_order()
    {
        var services = new ServiceCollection();
        services.AddVirtioRng().AddEcho().AddVirtioBlock(_image);
        using ServiceProvider provider = services.BuildServiceProvider();
        using var machine = new FakeVirtualMachine(GuestMemoryLayout.WithMmioHole(64 << 20));
        var mmio = new IoBus("mmio");
        var pci = new PciBus(machine, mmio);
        var context = new PlatformContext(machine, new IoBus("pio"), mmio, pci, Mock.Of<IPowerControl>(), 1, NullLoggerFactory.Instance);
        foreach (IVirtioDeviceFactory factory in provider.GetServices<IVirtioDeviceFactory>())
            new VirtioPciDeviceFactory(factory).Create(context);
        try
        {
            Assert.That(pci.Devices.Skip(1).Select(d => (d.DeviceNumber, d.Configuration.ReadUInt16(PciHeader.DeviceId))), Is.EqualTo(new[]
            {
                (1, (ushort)0x1044),
                (2, (ushort)(0x1040 + (int)EchoDevice.EchoType)),
                (3, (ushort)0x1042),
            }));
        }
        finally
        {
            context.DisposeResources();
        }
    }

    [Test]
    public void A_third_party_device_added_the_same_way_works_through_the_PCI_transport()
    {
        using ServiceProvider provider = new ServiceCollection().AddEcho().BuildServiceProvider();
        var machine = new FakeVirtualMachine(GuestMemoryLayout.Flat(1 << 20));
        IVirtioDevice echo = provider.GetRequiredService<IVirtioDeviceFactory>().Create(machine.Memory);
        var bed = new VirtioTestBed(echo, machine: machine);
        var arena = new GuestArena(new GuestAddress(0x80000), 0x70000);
        using var driver = new VirtqueueDriver(machine.Memory, 0, 16, VirtioFeatures.Version1, new GuestAddress(0x40000), arena);
        try
        {
            Assert.That(bed.Negotiate(VirtioFeatures.Version1));
            bed.SetUpQueue(0, 16, driver.Descriptors.Value, driver.Available.Value, driver.Used.Value);
            bed.AddStatus(VirtioDeviceStatus.DriverOk);

            DriverBuffer reply = driver.Writable(5);
            driver.Add(driver.Readable("hello"u8), reply);
            driver.Publish();
            bed.Notify(0);
            SpinWait.SpinUntil(() => driver.UsedIndex == 1, VirtqueueDriver.PatienceMilliseconds);
            Assert.That(driver.TryTakeUsed(out VringUsedElement used), Is.True);
            Assert.That((used.Length, System.Text.Encoding.ASCII.GetString(driver.ReadBuffer(reply))), Is.EqualTo((5u, "hello")));
            Assert.That(bed.ReadIsr() & 1, Is.EqualTo(1), "the queue interrupt reached the ISR");
            Assert.That(bed.Read(VirtioPciTransport.DeviceConfigOffset, 4), Is.EqualTo(1UL), "the device's own configuration");
        }
        finally
        {
            bed.Dispose();
            machine.Dispose();
        }
    }
}
