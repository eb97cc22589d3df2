using Lguest.Devices;

namespace Lguest.Tests.Net;

public class MacAddressTests
{
    [TestCase("52:54:00:12:34:56", new byte[] { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 })]
    [TestCase("AA:bb:Cc:0d:E0:ff", new byte[] { 0xaa, 0xbb, 0xcc, 0x0d, 0xe0, 0xff })]
    public void Parse_reads_six_hex_pairs_in_transmission_order(string text, byte[] octets)
    {
        var bytes = new byte[6];
        MacAddress.Parse(text).CopyTo(bytes);
        Assert.That(bytes, Is.EqualTo(octets));
    }

    [TestCase("")]
    [TestCase("52:54:00:12:34")]
    [TestCase("52:54:00:12:34:56:78")]
    [TestCase("52-54-00-12-34-56")]
    [TestCase("5254.0012.3456")]
    [TestCase("52:54:00:12:34:5g")]
    [TestCase("52:54:00:12:34:5")]
    [TestCase("52:54:00:12:34:567")]
    [TestCase(" 52:54:00:12:34:56")]
    [TestCase("+2:54:00:12:34:56")]
    public void TryParse_refuses_anything_but_six_colon_separated_hex_pairs(string text)
    {
        Assert.That(MacAddress.TryParse(text, out _), Is.False);
    }

    [Test]
    public void Parse_of_a_bad_address_throws_a_format_exception_naming_it()
    {
        Assert.That(() => MacAddress.Parse("nope"), Throws.TypeOf<FormatException>().With.Message.Contains("'nope'"));
    }

    [Test]
    public void ToString_writes_lower_case_pairs_that_parse_back_to_the_same_address()
    {
        MacAddress mac = MacAddress.Parse("0A:1B:2C:3D:4E:5F");
        Assert.That(mac.ToString(), Is.EqualTo("0a:1b:2c:3d:4e:5f"));
        Assert.That(MacAddress.Parse(mac.ToString()), Is.EqualTo(mac));
    }

    [Test]
    public void The_group_and_local_bits_come_from_the_first_octet()
    {
        Assert.Multiple(() =>
        {
            Assert.That(MacAddress.Parse("01:00:5e:00:00:01").IsMulticast, Is.True);
            Assert.That(MacAddress.Parse("52:54:00:00:00:01").IsMulticast, Is.False);
            Assert.That(MacAddress.Parse("02:00:00:00:00:01").IsLocallyAdministered, Is.True);
            Assert.That(MacAddress.Parse("00:16:3e:00:00:01").IsLocallyAdministered, Is.False);
            Assert.That(MacAddress.Parse("00:00:00:00:00:00").IsZero, Is.True);
        });
    }

    [Test]
    public void CreateRandom_makes_unicast_locally_administered_addresses_that_differ()
    {
        MacAddress[] macs = Enumerable.Range(0, 64).Select(_ => MacAddress.CreateRandom()).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(macs.All(m => !m.IsMulticast && m.IsLocallyAdministered && !m.IsZero), Is.True, string.Join(' ', macs));
            Assert.That(macs.Distinct().Count(), Is.GreaterThan(60));
        });
    }

    [Test]
    public void The_octet_constructor_refuses_a_span_that_is_not_six_bytes()
    {
        Assert.That(() => new MacAddress(new byte[5]), Throws.ArgumentException);
    }
}
