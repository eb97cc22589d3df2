using System.Net;
using Lguest.Devices;
using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Tests.Devices.Net;

/// <summary>Registration, the tap's life across boots, and failures that must leave no tap behind.</summary>
public class VirtioNetFactoryTests
{
    [Test]
    public void Each_AddVirtioNet_registers_one_card_named_in_order()
    {
        var services = new ServiceCollection();
        services.AddVirtioNet(TunnetSpec.Parse("10.1.0.1"));
        services.AddVirtioNet(o => o.Tunnet = TunnetSpec.Parse("bridge:br0"));
        using ServiceProvider provider = services.BuildServiceProvider();
        VirtioNetFactory[] factories = provider.GetServices<IVirtioDeviceFactory>().Cast<VirtioNetFactory>().ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(factories.Select(f => f.Options.Name), Is.EqualTo(new[] { "net0", "net1" }));
            Assert.That(factories[0].Options.Tunnet!.Address, Is.EqualTo(IPAddress.Parse("10.1.0.1")));
            Assert.That(factories[1].Options.Tunnet!.Bridge, Is.EqualTo("br0"));
        });
    }

    [Test]
    public void The_mac_address_comes_from_the_options_then_the_spec_then_chance()
    {
        MacAddress given = MacAddress.Parse("02:00:00:00:00:01"), spec = MacAddress.Parse("02:00:00:00:00:02");
        var fromOptions = new VirtioNetFactory(new VirtioNetOptions { Mac = given, Tunnet = TunnetSpec.Parse($"10.0.0.1:{spec}") }, NullLogger<VirtioNetDevice>.Instance);
        var fromSpec = new VirtioNetFactory(new VirtioNetOptions { Tunnet = TunnetSpec.Parse($"10.0.0.1:{spec}") }, NullLogger<VirtioNetDevice>.Instance);
        var random = new VirtioNetFactory(new VirtioNetOptions(), NullLogger<VirtioNetDevice>.Instance);
        Assert.Multiple(() =>
        {
            Assert.That(fromOptions.Mac, Is.EqualTo(given));
            Assert.That(fromSpec.Mac, Is.EqualTo(spec));
            Assert.That(random.Mac.IsLocallyAdministered && !random.Mac.IsMulticast, Is.True);
        });
    }

    [TestCase("bad/name", "TapName")]
    [TestCase("", "TapName")]
    public void An_invalid_tap_name_is_refused_when_the_card_is_added(string name, string option)
    {
        Assert.That(() => new ServiceCollection().AddVirtioNet(o => o.TapName = name),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo(option));
    }

    [TestCase((ushort)0)]
    [TestCase((ushort)100)]
    public void A_queue_size_that_is_not_a_power_of_two_is_refused(ushort size)
    {
        Assert.That(() => new ServiceCollection().AddVirtioNet(o => o.QueueSize = size),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("QueueSize"));
    }

    [Test]
    public void A_multicast_mac_address_is_refused()
    {
        Assert.That(() => new ServiceCollection().AddVirtioNet(o => o.Mac = MacAddress.Parse("01:00:5e:00:00:01")),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("Mac"));
    }

    [Test]
    public void The_first_boot_creates_the_tap_and_later_boots_reuse_it_with_the_same_mac()
    {
        using NetworkNamespace ns = NetworkNamespace.CreateOrIgnore();
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        using var factory = new VirtioNetFactory(new VirtioNetOptions { Tunnet = TunnetSpec.Parse("10.42.0.1/24"), TapName = "lgnet%d" }, NullLogger<VirtioNetDevice>.Instance);
        var first = (VirtioNetDevice)ns.Run(() => factory.Create(memory));
        var second = (VirtioNetDevice)ns.Run(() => factory.Create(memory));
        Assert.Multiple(() =>
        {
            Assert.That(first.TapName, Is.EqualTo("lgnet0"));
            Assert.That(second.TapName, Is.EqualTo("lgnet0"));
            Assert.That(second.Mac, Is.EqualTo(first.Mac));
            Assert.That(ns.Interfaces(), Has.Exactly(1).StartsWith("lgnet"));
            Assert.That(ns.Ip("-o", "-4", "addr", "show", "dev", "lgnet0"), Does.Contain("inet 10.42.0.1/24"));
        });
        factory.Dispose();
        Assert.That(ns.Interfaces(), Has.None.StartsWith("lgnet"));
    }

    [Test]
    public void A_missing_bridge_fails_the_boot_with_one_line_and_leaves_no_tap()
    {
        using NetworkNamespace ns = NetworkNamespace.CreateOrIgnore();
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        using var factory = new VirtioNetFactory(new VirtioNetOptions { Tunnet = TunnetSpec.Parse("bridge:nobr0"), TapName = "lgnet%d" }, NullLogger<VirtioNetDevice>.Instance);
        Assert.That(() => ns.Run(() => factory.Create(memory)), Throws.TypeOf<TapException>().With.Message.EqualTo("bridge 'nobr0' does not exist"));
        Assert.That(ns.Interfaces(), Has.None.StartsWith("lgnet"));
    }

    [Test]
    public void A_bridge_that_exists_gets_the_tap()
    {
        using NetworkNamespace ns = NetworkNamespace.CreateOrIgnore();
        ns.Ip("link", "add", "br7", "type", "bridge");
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        using var factory = new VirtioNetFactory(new VirtioNetOptions { Tunnet = TunnetSpec.Parse("bridge:br7") }, NullLogger<VirtioNetDevice>.Instance);
        var device = (VirtioNetDevice)ns.Run(() => factory.Create(memory));
        Assert.That(ns.Ip("-o", "link", "show", "dev", device.TapName), Does.Contain("master br7").And.Match(@"<[^>]*\bUP\b"));
    }
}
