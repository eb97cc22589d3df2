using Lguest.Devices;
using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Tests.Devices.Vsock;

public class VirtioVsockOptionsTests
{
    [TestCase(0UL)]
    [TestCase(2UL)]
    [TestCase(0xffff_ffffUL)]
    [TestCase(0x1_0000_0003UL)]
    public void A_reserved_or_too_large_cid_is_refused(ulong cid)
    {
        var options = new VirtioVsockOptions { GuestCid = cid };
        Assert.That(options.Validate, Throws.ArgumentException.With.Message.Contains("CID").And.Property("ParamName").EqualTo("GuestCid"));
    }

    [Test]
    public void A_socket_path_longer_than_a_socket_address_is_refused()
    {
        var options = new VirtioVsockOptions { UnixSocketPath = "/" + new string('a', 107) };
        Assert.That(options.Validate, Throws.ArgumentException.With.Message.Contains("longer than 107 bytes"));
    }

    [TestCase((ushort)0)]
    [TestCase((ushort)100)]
    public void A_queue_size_that_is_no_power_of_two_is_refused(ushort size) =>
        Assert.That(new VirtioVsockOptions { QueueSize = size }.Validate, Throws.ArgumentException.With.Message.Contains("power of two"));

    [Test]
    public void The_defaults_are_firecrackers()
    {
        var options = new VirtioVsockOptions();
        Assert.That((options.GuestCid, options.QueueSize, options.UnixSocketPath), Is.EqualTo((3UL, (ushort)256, (string?)null)));
    }

    [Test]
    public void Adding_the_device_registers_its_host_side_and_one_factory()
    {
        var services = new ServiceCollection();
        services.AddVirtioVsock(o => o.GuestCid = 42);
        using ServiceProvider provider = services.BuildServiceProvider();
        VsockHost host = provider.GetRequiredService<VsockHost>();
        Assert.That(host.GuestCid, Is.EqualTo(42UL));
        Assert.That(provider.GetServices<IVirtioDeviceFactory>().Count(), Is.EqualTo(1));
        using var memory = Lguest.Memory.GuestMemory.Allocate(Lguest.Memory.GuestMemoryLayout.Flat(1 << 20));
        IVirtioDevice device = provider.GetRequiredService<IVirtioDeviceFactory>().Create(memory);
        Assert.That(device.DeviceType, Is.EqualTo(VirtioDeviceType.Vsock));
    }

    [Test]
    public void A_second_vsock_device_is_refused()
    {
        var services = new ServiceCollection();
        services.AddVirtioVsock();
        Assert.That(() => services.AddVirtioVsock(), Throws.InvalidOperationException.With.Message.Contains("only one"));
    }
}
