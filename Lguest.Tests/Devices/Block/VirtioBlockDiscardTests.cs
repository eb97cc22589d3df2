using System.Buffers.Binary;
using Lguest.Devices;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Block;

/// <summary>DISCARD and WRITE_ZEROES: holes punched and ranges zeroed in the image, and every malformed range refused.</summary>
public class VirtioBlockDiscardTests
{
    private const ulong Negotiated = BlockTestBed.DefaultFeatures | VirtioBlockFeatures.Discard | VirtioBlockFeatures.WriteZeroes;

    private static byte[] Ranges(params (ulong Sector, uint Sectors, uint Flags)[] ranges)
    {
        var bytes = new byte[ranges.Length * 16];
        for (int i = 0; i < ranges.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 16), ranges[i].Sector);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 16 + 8), ranges[i].Sectors);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 16 + 12), ranges[i].Flags);
        }
        return bytes;
    }

    private static byte Request(BlockTestBed bed, uint type, byte[] ranges)
    {
        DriverBuffer status = bed.Status();
        uint used = bed.Submit(bed.Header(type, 0), bed.Driver.Readable(ranges), status);
        Assert.That(used, Is.EqualTo(1u));
        return bed.StatusOf(status);
    }

    [Test]
    public void The_device_offers_discard_and_write_zeroes_with_their_limits_in_config_space()
    {
        using var bed = new BlockTestBed(features: Negotiated);
        var config = new byte[VirtioBlockDevice.ConfigurationSize];
        bed.Device.ReadConfig(0, config);
        Assert.Multiple(() =>
        {
            Assert.That(bed.Device.DeviceFeatures & (VirtioBlockFeatures.Discard | VirtioBlockFeatures.WriteZeroes),
                Is.EqualTo(VirtioBlockFeatures.Discard | VirtioBlockFeatures.WriteZeroes));
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(36)), Is.EqualTo(BlockRequestQueue.MaxDiscardSectors), "max_discard_sectors");
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(40)), Is.EqualTo(BlockRequestQueue.MaxRanges), "max_discard_seg");
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(44)), Is.EqualTo(8u), "discard_sector_alignment");
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(48)), Is.EqualTo(BlockRequestQueue.MaxWriteZeroesSectors), "max_write_zeroes_sectors");
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(52)), Is.EqualTo(BlockRequestQueue.MaxRanges), "max_write_zeroes_seg");
            Assert.That(config[56], Is.EqualTo(1), "write_zeroes_may_unmap");
        });
    }

    [Test]
    public void A_read_only_disk_or_one_with_discard_off_offers_neither()
    {
        using var readOnly = new BlockTestBed(readOnly: true);
        using var off = new BlockTestBed(configure: o => o.Discard = false);
        const ulong both = VirtioBlockFeatures.Discard | VirtioBlockFeatures.WriteZeroes;
        Assert.That((readOnly.Device.DeviceFeatures & both, off.Device.DeviceFeatures & both), Is.EqualTo((0UL, 0UL)));
    }

    [Test]
    public void Discard_punches_a_hole_that_reads_back_as_zeroes_and_gives_the_space_back()
    {
        using var bed = new BlockTestBed(features: Negotiated, imageBytes: 4 << 20);
        long before = AllocatedBytes(bed.ImagePath);
        Assert.That(Request(bed, VirtioBlockRequestType.Discard, Ranges((8, 2048, 0), (4096, 8, 0))), Is.EqualTo(VirtioBlockStatus.Ok));
        byte[] image = bed.ImageBytes();
        Assert.Multiple(() =>
        {
            Assert.That(image.AsSpan(8 * 512, 2048 * 512).ToArray(), Is.All.Zero);
            Assert.That(image.AsSpan(4096 * 512, 8 * 512).ToArray(), Is.All.Zero);
            Assert.That(image.AsSpan(0, 8 * 512).ToArray(), Is.EqualTo(bed.PatternAt(0, 8)), "before the first range");
            Assert.That(image.AsSpan(2056 * 512, 512).ToArray(), Is.EqualTo(bed.PatternAt(2056, 1)), "after the first range");
            Assert.That(image, Has.Length.EqualTo(4 << 20), "the image keeps its size");
            Assert.That(AllocatedBytes(bed.ImagePath), Is.LessThanOrEqualTo(before - (1 << 20)), "a 1 MiB hole frees at least 1 MiB");
        });
    }

    [Test]
    public void Write_zeroes_zeroes_the_range_with_and_without_unmap()
    {
        using var bed = new BlockTestBed(features: Negotiated);
        Assert.That(Request(bed, VirtioBlockRequestType.WriteZeroes, Ranges((3, 5, 0), (100, 1, 1))), Is.EqualTo(VirtioBlockStatus.Ok));
        byte[] image = bed.ImageBytes();
        Assert.Multiple(() =>
        {
            Assert.That(image.AsSpan(3 * 512, 5 * 512).ToArray(), Is.All.Zero);
            Assert.That(image.AsSpan(100 * 512, 512).ToArray(), Is.All.Zero);
            Assert.That(image.AsSpan(2 * 512, 512).ToArray(), Is.EqualTo(bed.PatternAt(2, 1)));
            Assert.That(image.AsSpan(8 * 512, 512).ToArray(), Is.EqualTo(bed.PatternAt(8, 1)));
        });
    }

    [TestCase(VirtioBlockRequestType.Discard, 1u, VirtioBlockStatus.Unsupported, TestName = "Discard_with_the_unmap_flag_is_unsupported")]
    [TestCase(VirtioBlockRequestType.Discard, 2u, VirtioBlockStatus.Unsupported, TestName = "Discard_with_a_reserved_flag_is_unsupported")]
    [TestCase(VirtioBlockRequestType.WriteZeroes, 0x80000000u, VirtioBlockStatus.Unsupported, TestName = "Write_zeroes_with_a_reserved_flag_is_unsupported")]
    public void A_range_with_flags_it_may_not_have_is_refused_and_the_image_untouched(uint type, uint flags, byte expected)
    {
        using var bed = new BlockTestBed(features: Negotiated);
        Assert.That(Request(bed, type, Ranges((0, 8, flags))), Is.EqualTo(expected));
        Assert.That(bed.ImageBytes(), Is.EqualTo(bed.Pattern));
    }

    [Test]
    public void Ranges_outside_the_disk_too_long_too_many_or_malformed_are_refused_and_the_image_untouched()
    {
        using var bed = new BlockTestBed(features: Negotiated);
        ulong capacity = bed.Device.Capacity;
        var tooMany = Enumerable.Range(0, (int)BlockRequestQueue.MaxRanges + 1).Select(i => ((ulong)i, 1u, 0u)).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(Request(bed, VirtioBlockRequestType.Discard, Ranges((capacity - 1, 2, 0))), Is.EqualTo(VirtioBlockStatus.IoError), "past the end");
            Assert.That(Request(bed, VirtioBlockRequestType.Discard, Ranges((ulong.MaxValue - 3, 8, 0))), Is.EqualTo(VirtioBlockStatus.IoError), "a sector that wraps");
            Assert.That(Request(bed, VirtioBlockRequestType.WriteZeroes, Ranges((0, BlockRequestQueue.MaxWriteZeroesSectors + 1, 0))), Is.EqualTo(VirtioBlockStatus.IoError), "over max_write_zeroes_sectors");
            Assert.That(Request(bed, VirtioBlockRequestType.Discard, Ranges(tooMany)), Is.EqualTo(VirtioBlockStatus.Unsupported), "over max_discard_seg");
            Assert.That(Request(bed, VirtioBlockRequestType.Discard, new byte[15]), Is.EqualTo(VirtioBlockStatus.IoError), "not whole ranges");
            Assert.That(Request(bed, VirtioBlockRequestType.WriteZeroes, []), Is.EqualTo(VirtioBlockStatus.IoError), "no range");
            // A bad range after a good one: the good one may have been applied, the request still fails.
            Assert.That(Request(bed, VirtioBlockRequestType.Discard, Ranges((0, 8, 0), (capacity, 8, 0))), Is.EqualTo(VirtioBlockStatus.IoError), "second range out");
        });
        Assert.That(bed.ImageBytes().AsSpan(8 * 512).ToArray(), Is.EqualTo(bed.Pattern.AsSpan(8 * 512).ToArray()));
    }

    [Test]
    public void Without_the_features_negotiated_both_commands_are_unsupported()
    {
        using var bed = new BlockTestBed();
        Assert.That(Request(bed, VirtioBlockRequestType.Discard, Ranges((0, 8, 0))), Is.EqualTo(VirtioBlockStatus.Unsupported));
        Assert.That(Request(bed, VirtioBlockRequestType.WriteZeroes, Ranges((0, 8, 0))), Is.EqualTo(VirtioBlockStatus.Unsupported));
        Assert.That(bed.ImageBytes(), Is.EqualTo(bed.Pattern));
    }

    // st_blocks * 512 of the file: what it takes on the host's disk.
    private static long AllocatedBytes(string path)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("stat", $"-c %b {path}") { RedirectStandardOutput = true };
        using var stat = System.Diagnostics.Process.Start(psi)!;
        string output = stat.StandardOutput.ReadToEnd();
        stat.WaitForExit();
        return long.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture) * 512;
    }
}
