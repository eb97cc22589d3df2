using System.Buffers.Binary;
using Lguest.Devices;
using Lguest.Virtio;

namespace Lguest.Tests.Devices.Block;

/// <summary>What the block device offers and shows in its configuration space (virtio 1.2 §5.2.3-4).</summary>
public class VirtioBlockConfigurationTests
{
    [Test]
    public void A_writable_disk_offers_flush_seg_max_blk_size_discard_write_zeroes_the_ring_features_and_version_1_but_not_read_only()
    {
        using var bed = new BlockTestBed(activate: false);
        Assert.That(bed.Device.DeviceFeatures, Is.EqualTo(VirtioBlockFeatures.Flush | VirtioBlockFeatures.SegMax | VirtioBlockFeatures.BlockSize
            | VirtioBlockFeatures.Discard | VirtioBlockFeatures.WriteZeroes
            | VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1));
    }

    [Test]
    public void A_read_only_disk_also_offers_VIRTIO_BLK_F_RO()
    {
        using var bed = new BlockTestBed(readOnly: true, activate: false);
        Assert.That(bed.Device.DeviceFeatures & VirtioBlockFeatures.ReadOnly, Is.EqualTo(VirtioBlockFeatures.ReadOnly));
        Assert.That(bed.Device.IsReadOnly);
    }

    [Test]
    public void The_device_is_a_block_device_with_one_queue_of_the_configured_size()
    {
        using var bed = new BlockTestBed(activate: false, queueSize: 128);
        Assert.That((bed.Device.DeviceType, bed.Device.QueueMaxSizes), Is.EqualTo((VirtioDeviceType.Block, new ushort[] { 128 })));
        Assert.That((bed.Device.ConfigSize, bed.Device.ConfigGeneration), Is.EqualTo((60, (byte)0)));
    }

    [Test]
    public void Capacity_is_the_image_size_in_512_byte_sectors_little_endian_at_offset_0()
    {
        using var bed = new BlockTestBed(activate: false, imageBytes: 3 << 20);
        Span<byte> capacity = stackalloc byte[8];
        bed.Device.ReadConfig(0, capacity);
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(capacity), Is.EqualTo(6144UL));
    }

    [Test]
    public void A_partial_last_sector_is_not_part_of_the_capacity()
    {
        using var bed = new BlockTestBed(activate: false, imageBytes: (1 << 20) + 511);
        Assert.That(bed.Device.Capacity, Is.EqualTo(2048UL));
    }

    [Test]
    public void The_capacity_reads_the_same_as_two_32_bit_halves()
    {
        using var bed = new BlockTestBed(activate: false, imageBytes: 5 << 20);
        Span<byte> low = stackalloc byte[4], high = stackalloc byte[4];
        bed.Device.ReadConfig(0, low);
        bed.Device.ReadConfig(4, high);
        Assert.That((BinaryPrimitives.ReadUInt32LittleEndian(low), BinaryPrimitives.ReadUInt32LittleEndian(high)), Is.EqualTo((10240u, 0u)));
    }

    [Test]
    public void Seg_max_leaves_room_in_the_queue_for_the_header_and_the_status()
    {
        using var bed = new BlockTestBed(activate: false, queueSize: 256);
        Span<byte> segMax = stackalloc byte[4];
        bed.Device.ReadConfig(12, segMax);
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(segMax), Is.EqualTo(254u));
    }

    [Test]
    public void Blk_size_is_512()
    {
        using var bed = new BlockTestBed(activate: false);
        Span<byte> blockSize = stackalloc byte[4];
        bed.Device.ReadConfig(20, blockSize);
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(blockSize), Is.EqualTo(512u));
    }

    [Test]
    public void Fields_of_features_not_offered_read_zero()
    {
        using var bed = new BlockTestBed(activate: false, configure: o => o.Discard = false);
        var config = new byte[60];
        for (int offset = 0; offset < 60; offset += 4)
            bed.Device.ReadConfig(offset, config.AsSpan(offset, 4));
        Assert.That(config.AsSpan(8, 4).ToArray(), Is.All.Zero, "size_max");
        Assert.That(config.AsSpan(16, 4).ToArray(), Is.All.Zero, "geometry");
        Assert.That(config.AsSpan(24).ToArray(), Is.All.Zero, "topology, writeback, num_queues, discard, write zeroes");
    }

    [Test]
    public void Configuration_writes_change_nothing()
    {
        using var bed = new BlockTestBed(activate: false);
        bed.Device.WriteConfig(0, [1, 2, 3, 4, 5, 6, 7, 8]);
        bed.Device.WriteConfig(32, [1]); // writeback, writable only with VIRTIO_BLK_F_CONFIG_WCE
        Span<byte> capacity = stackalloc byte[8];
        bed.Device.ReadConfig(0, capacity);
        Span<byte> writeback = stackalloc byte[1];
        bed.Device.ReadConfig(32, writeback);
        Assert.That((BinaryPrimitives.ReadUInt64LittleEndian(capacity), writeback[0]), Is.EqualTo((2048UL, (byte)0)));
    }
}
