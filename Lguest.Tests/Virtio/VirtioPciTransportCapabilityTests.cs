using Lguest.Pci;
using Lguest.Tests.Support;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Virtio;

public class VirtioPciTransportCapabilityTests
{
    private static VirtioTestBed Bed(VirtioDeviceType type = VirtioDeviceType.Entropy, int configSize = 8) =>
        new(new FakeVirtioDevice("dev", type, configSize: configSize));

    [TestCase(VirtioDeviceType.Net, 0x1041, 0x020000u)]
    [TestCase(VirtioDeviceType.Block, 0x1042, 0x010000u)]
    [TestCase(VirtioDeviceType.Console, 0x1043, 0x078000u)]
    [TestCase(VirtioDeviceType.Entropy, 0x1044, 0x00ff00u)]
    public void The_device_shows_the_modern_virtio_identity_of_its_type(VirtioDeviceType type, int deviceId, uint classCode)
    {
        using VirtioTestBed bed = Bed(type);
        Assert.That(bed.Config(PciHeader.VendorId, 2), Is.EqualTo(0x1af4));
        Assert.That(bed.Config(PciHeader.DeviceId, 2), Is.EqualTo(deviceId));
        Assert.That(bed.Config(PciHeader.RevisionId, 1), Is.EqualTo(1));
        Assert.That(bed.Config(PciHeader.RevisionId, 4) >> 8, Is.EqualTo(classCode));
        Assert.That(bed.Config(PciHeader.SubsystemVendorId, 2), Is.EqualTo(0x1af4));
        Assert.That(bed.Config(PciHeader.SubsystemId, 2), Is.EqualTo(0x40 + (int)type));
        Assert.That(bed.Config(PciHeader.InterruptPin, 1), Is.EqualTo(1));
    }

    [Test]
    public void Bar_0_is_a_16_KiB_64_bit_memory_bar_that_is_not_prefetchable()
    {
        using VirtioTestBed bed = Bed();
        uint low = bed.Config(PciHeader.BaseAddress0, 4);
        ulong placed = bed.BarAddress;
        bed.SetConfig(PciHeader.BaseAddress0, 4, 0xffff_ffff);
        bed.SetConfig(PciHeader.BaseAddress0 + 4, 4, 0xffff_ffff);
        uint sizeLow = bed.Config(PciHeader.BaseAddress0, 4);
        Assert.That(sizeLow & 0xf, Is.EqualTo(PciHeader.BarMemoryType64));
        Assert.That(~(sizeLow & PciHeader.BarMemoryMask) + 1, Is.EqualTo(0x4000));
        Assert.That(bed.Config(PciHeader.BaseAddress0 + 4, 4), Is.EqualTo(0xffff_ffff));
        Assert.That(low & ~0xfu, Is.EqualTo((uint)placed));
    }

    // The walk of virtio_pci_find_capability and the checks of vp_modern_map_capability (drivers/virtio/virtio_pci_modern_dev.c).
    private static Dictionary<VirtioPciCapabilityType, (int At, uint Bar, uint Offset, uint Length)> WalkLikeLinux(VirtioTestBed bed)
    {
        var found = new Dictionary<VirtioPciCapabilityType, (int, uint, uint, uint)>();
        Assert.That(bed.Config(PciHeader.Status, 2) & (uint)PciStatus.CapabilityList, Is.Not.Zero);
        int at = (int)bed.Config(PciHeader.CapabilityList, 1) & ~3;
        for (int hops = 0; at != 0; hops++)
        {
            Assert.That(hops, Is.LessThan(48), "the capability list loops");
            Assert.That(at, Is.GreaterThanOrEqualTo(0x40));
            if (bed.Config(at, 1) == PciHeader.CapabilityIdVendor)
            {
                var type = (VirtioPciCapabilityType)bed.Config(at + 3, 1);
                if (!found.ContainsKey(type)) // Linux takes the first of each type
                    found[type] = (at, bed.Config(at + 4, 1), bed.Config(at + 8, 4), bed.Config(at + 12, 4));
            }
            at = (int)bed.Config(at + 1, 1) & ~3;
        }
        return found;
    }

    [Test]
    public void The_capability_chain_announces_each_structure_where_it_is_in_bar_0()
    {
        using VirtioTestBed bed = Bed(configSize: 24);
        var caps = WalkLikeLinux(bed);

        Assert.That(caps[VirtioPciCapabilityType.CommonConfiguration], Is.EqualTo((0x40, 0u, 0x0000u, (uint)Size)));
        Assert.That(caps[VirtioPciCapabilityType.NotifyConfiguration], Is.EqualTo((0x50, 0u, 0x3000u, 2u * 4)));
        Assert.That(caps[VirtioPciCapabilityType.IsrConfiguration], Is.EqualTo((0x64, 0u, 0x1000u, 1u)));
        Assert.That(caps[VirtioPciCapabilityType.PciConfiguration], Is.EqualTo((0x74, 0u, 0u, 0u)));
        Assert.That(caps[VirtioPciCapabilityType.DeviceConfiguration], Is.EqualTo((0x88, 0u, 0x2000u, 24u)));
    }

    [Test]
    public void The_notify_capability_carries_a_multiplier_of_4()
    {
        using VirtioTestBed bed = Bed();
        Assert.That(bed.Config(VirtioPciTransport.NotifyCapability + 16, 4), Is.EqualTo(4));
    }

    [Test]
    public void Each_capability_states_its_length_and_points_inside_bar_0_with_linux_alignment()
    {
        using VirtioTestBed bed = Bed(configSize: 24);
        var alignment = new Dictionary<VirtioPciCapabilityType, uint>
        {
            [VirtioPciCapabilityType.CommonConfiguration] = 4, [VirtioPciCapabilityType.NotifyConfiguration] = 2,
            [VirtioPciCapabilityType.IsrConfiguration] = 1, [VirtioPciCapabilityType.DeviceConfiguration] = 4,
        };
        foreach ((VirtioPciCapabilityType type, (int at, uint _, uint offset, uint length)) in WalkLikeLinux(bed))
        {
            Assert.That(bed.Config(at + 2, 1), Is.EqualTo(type is VirtioPciCapabilityType.NotifyConfiguration or VirtioPciCapabilityType.PciConfiguration ? 20 : 16), type.ToString());
            if (!alignment.TryGetValue(type, out uint align))
                continue;
            Assert.That(offset % align, Is.Zero, type.ToString());
            Assert.That(offset + length, Is.LessThanOrEqualTo(VirtioPciTransport.BarSize), type.ToString());
        }
    }

    [Test]
    public void A_device_without_configuration_has_no_device_capability()
    {
        using VirtioTestBed bed = Bed(configSize: 0);
        Assert.That(WalkLikeLinux(bed).Keys, Is.EquivalentTo(new[]
        {
            VirtioPciCapabilityType.CommonConfiguration, VirtioPciCapabilityType.NotifyConfiguration,
            VirtioPciCapabilityType.IsrConfiguration, VirtioPciCapabilityType.PciConfiguration,
        }));
    }

    [Test]
    public void Writing_into_a_capability_needs_a_reset_and_changes_nothing()
    {
        using VirtioTestBed bed = Bed();
        bed.SetConfig(VirtioPciTransport.CommonCapability + 8, 4, 0x1234);
        Assert.That(bed.Config(VirtioPciTransport.CommonCapability + 8, 4), Is.Zero);
        Assert.That(bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void The_pci_configuration_window_reads_a_register_of_bar_0()
    {
        using VirtioTestBed bed = Bed();
        int cap = VirtioPciTransport.PciConfigCapability;
        bed.SetConfig(cap + 4, 1, 0);
        bed.SetConfig(cap + 8, 4, NumQueues);
        bed.SetConfig(cap + 12, 4, 2);
        Assert.That(bed.Config(cap + 16, 2), Is.EqualTo(2));
        Assert.That(bed.Transport.NeedsReset, Is.False);
    }

    [Test]
    public void The_pci_configuration_window_writes_a_register_of_bar_0()
    {
        using VirtioTestBed bed = Bed();
        int cap = VirtioPciTransport.PciConfigCapability;
        bed.SetConfig(cap + 4, 1, 0);
        bed.SetConfig(cap + 8, 4, DeviceStatus);
        bed.SetConfig(cap + 12, 4, 1);
        bed.SetConfig(cap + 16, 1, (uint)VirtioDeviceStatus.Acknowledge);
        Assert.That(bed.Status, Is.EqualTo(VirtioDeviceStatus.Acknowledge));
    }

    [TestCase(1, 0u, 1u, TestName = "A window on another BAR needs a reset")]
    [TestCase(0, 0u, 3u, TestName = "A window of 3 bytes needs a reset")]
    [TestCase(0, 2u, 4u, TestName = "A misaligned window needs a reset")]
    [TestCase(0, 0x4000u, 1u, TestName = "A window past the BAR needs a reset")]
    [TestCase(0, 0xffff_fffcu, 4u, TestName = "A window whose end wraps needs a reset")]
    public void A_bad_window_needs_a_reset(int bar, uint offset, uint length)
    {
        using VirtioTestBed bed = Bed();
        int cap = VirtioPciTransport.PciConfigCapability;
        bed.SetConfig(cap + 4, 1, (uint)bar);
        bed.SetConfig(cap + 8, 4, offset);
        bed.SetConfig(cap + 12, 4, length);
        _ = bed.Config(cap + 16, 4);
        Assert.That(bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Bar_accesses_reach_the_registers_only_while_memory_space_is_enabled()
    {
        using VirtioTestBed bed = Bed();
        ulong bar = bed.BarAddress;
        bed.SetConfig(PciHeader.Command, 2, 0);
        Assert.That(bed.Mmio.TryRead(bar + NumQueues, new byte[2]), Is.False);
        bed.SetConfig(PciHeader.Command, 2, (uint)PciCommand.MemorySpace);
        Assert.That(bed.Read(NumQueues, 2), Is.EqualTo(2));
    }
}
