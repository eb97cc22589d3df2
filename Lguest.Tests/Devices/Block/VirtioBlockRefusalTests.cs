using Lguest.Devices;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Block;

/// <summary>Every malformed or forbidden block request, each refused with its status and without touching the image.</summary>
public class VirtioBlockRefusalTests
{
    [Test]
    public void A_header_shorter_than_16_bytes_gets_IOERR()
    {
        using var bed = new BlockTestBed();
        DriverBuffer status = bed.Status();
        uint used = bed.Submit(bed.Driver.Readable(new byte[15]), status);
        Assert.That((bed.StatusOf(status), used), Is.EqualTo((VirtioBlockStatus.IoError, 1u)));
    }

    [Test]
    public void A_request_with_no_writable_byte_is_returned_with_nothing_written_and_the_queue_goes_on()
    {
        using var bed = new BlockTestBed();
        uint used = bed.Submit(bed.Header(VirtioBlockRequestType.Out, 0), bed.Driver.Readable(new byte[512]));
        Assert.That(used, Is.Zero);
        Assert.That(bed.ImageBytes(), Is.EqualTo(bed.Pattern), "a request that cannot be answered is not executed");
        DriverBuffer data = bed.Driver.Writable(512), status = bed.Status();
        bed.Submit(bed.Header(VirtioBlockRequestType.In, 1), data, status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
    }

    [Test]
    public void Only_zero_length_writable_buffers_count_as_no_status_byte()
    {
        using var bed = new BlockTestBed();
        DriverBuffer empty = bed.Driver.Writable(0);
        uint used = bed.Submit(bed.Header(VirtioBlockRequestType.In, 0), empty);
        Assert.That(used, Is.Zero);
    }

    [Test]
    public void A_read_whose_length_is_not_a_whole_number_of_sectors_gets_IOERR_and_writes_no_data()
    {
        using var bed = new BlockTestBed();
        DriverBuffer data = bed.Driver.Writable(700, fill: 0x77), status = bed.Status();
        uint used = bed.Submit(bed.Header(VirtioBlockRequestType.In, 0), data, status);
        Assert.That((bed.StatusOf(status), used), Is.EqualTo((VirtioBlockStatus.IoError, 1u)));
        Assert.That(bed.Driver.ReadBuffer(data), Is.All.EqualTo(0x77));
    }

    [Test]
    public void A_write_whose_length_is_not_a_whole_number_of_sectors_gets_IOERR_and_writes_nothing()
    {
        using var bed = new BlockTestBed();
        DriverBuffer status = bed.Status();
        bed.Submit(bed.Header(VirtioBlockRequestType.Out, 0), bed.Driver.Readable(new byte[513]), status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.IoError));
        Assert.That(bed.ImageBytes(), Is.EqualTo(bed.Pattern));
    }

    [Test]
    public void A_read_starting_past_the_capacity_gets_IOERR()
    {
        using var bed = new BlockTestBed();
        DriverBuffer data = bed.Driver.Writable(512, fill: 0x77), status = bed.Status();
        bed.Submit(bed.Header(VirtioBlockRequestType.In, bed.Device.Capacity), data, status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.IoError));
        Assert.That(bed.Driver.ReadBuffer(data), Is.All.EqualTo(0x77));
    }

    [Test]
    public void A_write_that_runs_past_the_capacity_gets_IOERR_and_neither_writes_nor_grows_the_image()
    {
        using var bed = new BlockTestBed();
        DriverBuffer status = bed.Status();
        // Two sectors from the last one: the first would fit, the second would grow the file.
        bed.Submit(bed.Header(VirtioBlockRequestType.Out, bed.Device.Capacity - 1), bed.Driver.Readable(new byte[1024]), status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.IoError));
        Assert.That(bed.ImageBytes(), Is.EqualTo(bed.Pattern), "no short write, no growth");
    }

    [TestCase(ulong.MaxValue)]
    [TestCase(ulong.MaxValue / 512 + 1)]  // sector * 512 wraps to 0
    [TestCase((1UL << 55) + 4)]           // sector * 512 wraps to 2048, inside the disk
    public void A_write_at_a_sector_whose_byte_offset_wraps_gets_IOERR_and_writes_nothing(ulong sector)
    {
        using var bed = new BlockTestBed();
        DriverBuffer status = bed.Status();
        bed.Submit(bed.Header(VirtioBlockRequestType.Out, sector), bed.Driver.Readable(new byte[512]), status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.IoError));
        Assert.That(bed.ImageBytes(), Is.EqualTo(bed.Pattern));
    }

    [Test]
    public void A_write_to_a_read_only_disk_gets_IOERR_and_leaves_the_image_alone()
    {
        using var bed = new BlockTestBed(readOnly: true);
        DriverBuffer status = bed.Status();
        bed.Submit(bed.Header(VirtioBlockRequestType.Out, 0), bed.Driver.Readable(new byte[512]), status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.IoError));
        Assert.That(bed.ImageBytes(), Is.EqualTo(bed.Pattern));
    }

    [Test]
    public void A_read_only_disk_still_serves_reads()
    {
        using var bed = new BlockTestBed(readOnly: true);
        DriverBuffer data = bed.Driver.Writable(1024), status = bed.Status();
        bed.Submit(bed.Header(VirtioBlockRequestType.In, 2), data, status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
        Assert.That(bed.Driver.ReadBuffer(data), Is.EqualTo(bed.PatternAt(2, 2)));
    }

    [Test]
    public void A_read_of_an_image_truncated_behind_the_device_gets_IOERR()
    {
        using var bed = new BlockTestBed();
        // Someone else shrinks the file after the device computed its capacity.
        using (var other = new FileStream(bed.ImagePath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            other.SetLength(4096);
        DriverBuffer data = bed.Driver.Writable(512), status = bed.Status();
        bed.Submit(bed.Header(VirtioBlockRequestType.In, 100), data, status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.IoError));
    }
}
