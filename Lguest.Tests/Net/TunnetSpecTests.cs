using System.Net;
using Lguest.Devices;

namespace Lguest.Tests.Net;

public class TunnetSpecTests
{
    [Test]
    public void An_address_alone_gives_the_host_end_that_address_and_no_mac()
    {
        TunnetSpec spec = TunnetSpec.Parse("192.168.19.1");
        Assert.Multiple(() =>
        {
            Assert.That(spec.IsBridge, Is.False);
            Assert.That(spec.Address, Is.EqualTo(IPAddress.Parse("192.168.19.1")));
            Assert.That(spec.PrefixLength, Is.Null);
            Assert.That(spec.Mac, Is.Null);
        });
    }

    [Test]
    public void A_mac_address_follows_the_first_colon_after_the_address()
    {
        TunnetSpec spec = TunnetSpec.Parse("10.0.0.1:52:54:00:12:34:56");
        Assert.Multiple(() =>
        {
            Assert.That(spec.Address, Is.EqualTo(IPAddress.Parse("10.0.0.1")));
            Assert.That(spec.Mac, Is.EqualTo(MacAddress.Parse("52:54:00:12:34:56")));
        });
    }

    [Test]
    public void A_prefix_length_after_the_address_sets_the_netmask()
    {
        TunnetSpec spec = TunnetSpec.Parse("10.1.2.1/24:02:00:00:00:00:07");
        Assert.Multiple(() =>
        {
            Assert.That(spec.Address, Is.EqualTo(IPAddress.Parse("10.1.2.1")));
            Assert.That(spec.PrefixLength, Is.EqualTo(24));
            Assert.That(spec.Mac, Is.EqualTo(MacAddress.Parse("02:00:00:00:00:07")));
        });
    }

    [Test]
    public void The_bridge_prefix_names_a_bridge_instead_of_an_address()
    {
        TunnetSpec spec = TunnetSpec.Parse("bridge:br0");
        Assert.Multiple(() =>
        {
            Assert.That(spec.IsBridge, Is.True);
            Assert.That(spec.Bridge, Is.EqualTo("br0"));
            Assert.That(spec.Address, Is.Null);
            Assert.That(spec.Mac, Is.Null);
        });
    }

    [Test]
    public void A_bridge_name_may_be_followed_by_a_mac_address()
    {
        TunnetSpec spec = TunnetSpec.Parse("bridge:lan-br.5:52:54:00:ab:cd:ef");
        Assert.Multiple(() =>
        {
            Assert.That(spec.Bridge, Is.EqualTo("lan-br.5"));
            Assert.That(spec.Mac, Is.EqualTo(MacAddress.Parse("52:54:00:ab:cd:ef")));
        });
    }

    [TestCase("10.0.0.1")]
    [TestCase("10.0.0.1/30")]
    [TestCase("10.0.0.1:52:54:00:12:34:56")]
    [TestCase("bridge:br0")]
    [TestCase("bridge:br0:52:54:00:12:34:56")]
    public void ToString_writes_the_spec_back_as_typed(string text)
    {
        Assert.That(TunnetSpec.Parse(text).ToString(), Is.EqualTo(text));
    }

    [TestCase("", "needs <ipaddr>")]
    [TestCase("10.0.0", "'10.0.0' is not an IPv4 address")]
    [TestCase("10.0.0.256", "'10.0.0.256' is not an IPv4 address")]
    [TestCase("10.0.0.1.1", "is not an IPv4 address")]
    [TestCase("0x0a.0.0.1", "is not an IPv4 address")]
    [TestCase("10.0.0.-1", "is not an IPv4 address")]
    [TestCase("10..0.1", "is not an IPv4 address")]
    [TestCase("fe80::1", "is not an IPv4 address")]
    [TestCase("host.example", "is not an IPv4 address")]
    [TestCase("0.0.0.0", "cannot be an interface's address")]
    [TestCase("255.255.255.255", "cannot be an interface's address")]
    [TestCase("127.0.0.1", "cannot be an interface's address")]
    [TestCase("224.0.0.1", "cannot be an interface's address")]
    [TestCase("10.0.0.1/0", "not a prefix length")]
    [TestCase("10.0.0.1/33", "not a prefix length")]
    [TestCase("10.0.0.1/", "not a prefix length")]
    [TestCase("10.0.0.1/x", "not a prefix length")]
    [TestCase("10.0.0.1:", "'' is not a MAC address")]
    [TestCase("10.0.0.1:52:54:00:12:34", "is not a MAC address")]
    [TestCase("10.0.0.1:zz:54:00:12:34:56", "is not a MAC address")]
    [TestCase("10.0.0.1:01:00:5e:00:00:01", "a multicast address")]
    [TestCase("10.0.0.1:00:00:00:00:00:00", "all zero")]
    [TestCase("bridge:", "needs a bridge name")]
    [TestCase("bridge::52:54:00:12:34:56", "needs a bridge name")]
    [TestCase("bridge:a-name-far-too-long", "is not an interface name")]
    [TestCase("bridge:br/0", "is not an interface name")]
    [TestCase("bridge:..", "is not an interface name")]
    [TestCase("bridge:br0:nope", "'nope' is not a MAC address")]
    public void A_bad_spec_is_refused_with_one_line_saying_why(string text, string reason)
    {
        bool parsed = TunnetSpec.TryParse(text, out TunnetSpec? spec, out string? error);
        Assert.Multiple(() =>
        {
            Assert.That(parsed, Is.False);
            Assert.That(spec, Is.Null);
            Assert.That(error, Does.Contain(reason));
            Assert.That(error, Does.Not.Contain('\n'));
        });
    }

    [Test]
    public void Parse_throws_a_format_exception_with_the_same_line()
    {
        Assert.That(() => TunnetSpec.Parse("10.0.0.300"), Throws.TypeOf<FormatException>().With.Message.Contains("'10.0.0.300'"));
    }

    [Test]
    public void The_factory_methods_build_the_same_specs_as_parsing()
    {
        MacAddress mac = MacAddress.Parse("02:11:22:33:44:55");
        Assert.Multiple(() =>
        {
            Assert.That(TunnetSpec.ForAddress(IPAddress.Parse("10.3.0.1"), 16, mac), Is.EqualTo(TunnetSpec.Parse("10.3.0.1/16:02:11:22:33:44:55")));
            Assert.That(TunnetSpec.ForBridge("br1"), Is.EqualTo(TunnetSpec.Parse("bridge:br1")));
        });
    }
}
