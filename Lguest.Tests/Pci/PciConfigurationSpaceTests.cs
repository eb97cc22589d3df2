using Lguest.Pci;

namespace Lguest.Tests.Pci;

public class PciConfigurationSpaceTests
{
    [Test]
    public void A_guest_write_leaves_read_only_bits_alone()
    {
        var space = new PciConfigurationSpace();
        space.SetUInt16(0x40, 0x1234);
        space.Write(0x40, [0xff, 0xff]);
        Assert.That(space.ReadUInt16(0x40), Is.EqualTo(0x1234));
    }

    [Test]
    public void A_guest_write_changes_only_the_writable_bits()
    {
        var space = new PciConfigurationSpace();
        space.SetUInt32(0x40, 0xaaaa_aaaa);
        space.SetWriteMask(0x40, 4, 0x0000_ff0f);
        space.Write(0x40, [0x55, 0x55, 0x55, 0x55]);
        Assert.That(space.ReadUInt32(0x40), Is.EqualTo(0xaaaa_55a5));
    }

    [Test]
    public void Writing_ones_clears_write_one_to_clear_bits_and_zeros_leave_them()
    {
        var space = new PciConfigurationSpace();
        space.SetUInt16(PciHeader.Status, 0xf900);
        space.SetWriteOneToClearMask(PciHeader.Status, 2, (uint)PciStatus.WriteOneToClear);
        space.Write(PciHeader.Status, [0x00, 0x21]); // clear ReceivedMasterAbort (0x2000) and MasterDataParityError (0x100)
        Assert.That(space.ReadUInt16(PciHeader.Status), Is.EqualTo(0xd800));
    }

    [Test]
    public void AddCapability_links_the_list_from_the_capability_pointer()
    {
        var space = new PciConfigurationSpace();
        int first = space.AddCapability(0x09, 16);
        int second = space.AddCapability(0x11, 12);

        Assert.That(space.ReadByte(PciHeader.CapabilityList), Is.EqualTo(first));
        Assert.That(space.ReadByte(first), Is.EqualTo(0x09));
        Assert.That(space.ReadByte(first + 1), Is.EqualTo(second));
        Assert.That(space.ReadByte(second), Is.EqualTo(0x11));
        Assert.That(space.ReadByte(second + 1), Is.Zero);
    }

    [Test]
    public void AddCapability_sets_the_capability_list_status_bit()
    {
        var space = new PciConfigurationSpace();
        space.AddCapability(0x09, 4);
        Assert.That(space.ReadUInt16(PciHeader.Status) & (int)PciStatus.CapabilityList, Is.Not.Zero);
    }

    [Test]
    public void Capabilities_start_at_0x40_and_stay_dword_aligned()
    {
        var space = new PciConfigurationSpace();
        int first = space.AddCapability(0x09, 5);
        int second = space.AddCapability(0x09, 5);
        Assert.That(first, Is.EqualTo(0x40));
        Assert.That(second, Is.EqualTo(0x48));
    }

    [Test]
    public void A_capability_that_does_not_fit_is_refused()
    {
        var space = new PciConfigurationSpace();
        space.AddCapability(0x09, 0xb0);
        Assert.That(() => space.AddCapability(0x09, 0x20), Throws.InvalidOperationException);
    }

    [Test]
    public void An_access_past_the_end_is_refused()
    {
        var space = new PciConfigurationSpace();
        Assert.That(() => space.Read(0xfe, new byte[4]), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => space.Write(-1, new byte[1]), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
