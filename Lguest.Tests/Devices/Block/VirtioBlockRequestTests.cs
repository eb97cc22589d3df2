using System.Text;
using Lguest.Devices;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Block;

/// <summary>Every request type the block device serves, over a real image and real guest memory.</summary>
public class VirtioBlockRequestTests
{
    [Test]
    public void An_IN_request_reads_the_sectors_into_the_writable_buffer_and_reports_ok()
    {
        using var bed = new BlockTestBed();
        DriverBuffer data = bed.Driver.Writable(4096);
        DriverBuffer status = bed.Status();
        uint used = bed.Submit(bed.Header(VirtioBlockRequestType.In, 10), data, status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
        Assert.That(bed.Driver.ReadBuffer(data), Is.EqualTo(bed.PatternAt(10, 8)));
        Assert.That(used, Is.EqualTo(4097u));
    }

    [Test]
    public void An_IN_request_fills_data_buffers_spread_over_several_descriptors_in_order()
    {
        using var bed = new BlockTestBed();
        DriverBuffer a = bed.Driver.Writable(512), b = bed.Driver.Writable(1536), c = bed.Driver.Writable(1024);
        DriverBuffer status = bed.Status();
        bed.Submit(bed.Header(VirtioBlockRequestType.In, 3), a, b, c, status);
        byte[] read = [.. bed.Driver.ReadBuffer(a), .. bed.Driver.ReadBuffer(b), .. bed.Driver.ReadBuffer(c)];
        Assert.That(read, Is.EqualTo(bed.PatternAt(3, 6)));
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
    }

    [Test]
    public void The_status_byte_may_share_a_buffer_with_the_data()
    {
        using var bed = new BlockTestBed();
        DriverBuffer dataAndStatus = bed.Driver.Writable(513);
        uint used = bed.Submit(bed.Header(VirtioBlockRequestType.In, 7), dataAndStatus);
        byte[] bytes = bed.Driver.ReadBuffer(dataAndStatus);
        Assert.That(bytes[..512], Is.EqualTo(bed.PatternAt(7, 1)));
        Assert.That(bytes[512], Is.EqualTo(VirtioBlockStatus.Ok));
        Assert.That(used, Is.EqualTo(513u));
    }

    [Test]
    public void A_header_split_across_two_descriptors_is_read_whole()
    {
        using var bed = new BlockTestBed();
        DriverBuffer header = bed.Header(VirtioBlockRequestType.In, 0x1234 % 2048);
        var first = new DriverBuffer(header.Address, 5, false);
        var second = new DriverBuffer(header.Address.Offset(5), 11, false);
        DriverBuffer data = bed.Driver.Writable(512), status = bed.Status();
        bed.Submit(first, second, data, status);
        Assert.That(bed.Driver.ReadBuffer(data), Is.EqualTo(bed.PatternAt(0x1234 % 2048, 1)));
    }

    [Test]
    public void An_OUT_request_writes_the_data_to_the_image_at_the_sector()
    {
        using var bed = new BlockTestBed();
        byte[] payload = Enumerable.Range(0, 1024).Select(i => (byte)(i * 3)).ToArray();
        DriverBuffer status = bed.Status();
        uint used = bed.Submit(bed.Header(VirtioBlockRequestType.Out, 100), bed.Driver.Readable(payload), status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
        Assert.That(used, Is.EqualTo(1u));
        byte[] image = bed.ImageBytes();
        Assert.That(image.AsSpan(100 * 512, 1024).ToArray(), Is.EqualTo(payload));
        Assert.That(image.AsSpan(0, 100 * 512).SequenceEqual(bed.Pattern.AsSpan(0, 100 * 512)), "bytes before the range unchanged");
        Assert.That(image.AsSpan(102 * 512).SequenceEqual(bed.Pattern.AsSpan(102 * 512)), "bytes after the range unchanged");
    }

    [Test]
    public void An_OUT_request_whose_header_and_data_share_a_descriptor_writes_the_data_after_the_header()
    {
        using var bed = new BlockTestBed();
        DriverBuffer header = bed.Header(VirtioBlockRequestType.Out, 5);
        byte[] payload = Enumerable.Repeat((byte)0x5A, 512).ToArray();
        // The header and its data in one buffer, as a driver without separate descriptors may lay them out.
        var combined = new byte[16 + 512];
        bed.Memory.Read(header.Address, combined.AsSpan(0, 16));
        payload.CopyTo(combined, 16);
        DriverBuffer status = bed.Status();
        bed.Submit(bed.Driver.Readable(combined), status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
        Assert.That(bed.ImageBytes().AsSpan(5 * 512, 512).ToArray(), Is.EqualTo(payload));
    }

    [Test]
    public void Requests_through_indirect_descriptor_tables_are_served()
    {
        using var bed = new BlockTestBed();
        byte[] payload = Enumerable.Range(0, 2048).Select(i => (byte)i).ToArray();
        DriverBuffer writeStatus = bed.Status();
        bed.Submit(indirect: true, bed.Header(VirtioBlockRequestType.Out, 40), bed.Driver.Readable(payload.AsSpan(0, 1024)),
            bed.Driver.Readable(payload.AsSpan(1024)), writeStatus);
        DriverBuffer data = bed.Driver.Writable(2048), readStatus = bed.Status();
        bed.Submit(indirect: true, bed.Header(VirtioBlockRequestType.In, 40), data, readStatus);
        Assert.That((bed.StatusOf(writeStatus), bed.StatusOf(readStatus)), Is.EqualTo((VirtioBlockStatus.Ok, VirtioBlockStatus.Ok)));
        Assert.That(bed.Driver.ReadBuffer(data), Is.EqualTo(payload));
    }

    [Test]
    public void A_request_for_the_last_sector_of_the_disk_is_served()
    {
        using var bed = new BlockTestBed();
        ulong last = bed.Device.Capacity - 1;
        DriverBuffer data = bed.Driver.Writable(512), status = bed.Status();
        bed.Submit(bed.Header(VirtioBlockRequestType.In, last), data, status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
        Assert.That(bed.Driver.ReadBuffer(data), Is.EqualTo(bed.PatternAt(last, 1)));
    }

    [Test]
    public void A_FLUSH_completes_ok_and_the_data_written_before_it_is_in_the_file()
    {
        using var bed = new BlockTestBed();
        byte[] payload = Enumerable.Repeat((byte)0xC3, 4096).ToArray();
        bed.Submit(bed.Header(VirtioBlockRequestType.Out, 64), bed.Driver.Readable(payload), bed.Status());
        DriverBuffer status = bed.Status();
        uint used = bed.Submit(bed.Header(VirtioBlockRequestType.Flush, 0), status);
        Assert.That((bed.StatusOf(status), used), Is.EqualTo((VirtioBlockStatus.Ok, 1u)));
        Assert.That(bed.ImageBytes().AsSpan(64 * 512, 4096).ToArray(), Is.EqualTo(payload));
    }

    [Test]
    public void A_FLUSH_on_a_read_only_disk_completes_ok()
    {
        using var bed = new BlockTestBed(readOnly: true);
        DriverBuffer status = bed.Status();
        bed.Submit(bed.Header(VirtioBlockRequestType.Flush, 0), status);
        Assert.That(bed.StatusOf(status), Is.EqualTo(VirtioBlockStatus.Ok));
    }

    [Test]
    public void GET_ID_returns_the_serial_NUL_padded_to_20_bytes()
    {
        using var bed = new BlockTestBed(serial: "LGUEST-DISK-7");
        DriverBuffer id = bed.Driver.Writable(20), status = bed.Status();
        uint used = bed.Submit(bed.Header(VirtioBlockRequestType.GetId, 0), id, status);
        byte[] expected = new byte[20];
        Encoding.ASCII.GetBytes("LGUEST-DISK-7").CopyTo(expected, 0);
        Assert.That(bed.Driver.ReadBuffer(id), Is.EqualTo(expected));
        Assert.That((bed.StatusOf(status), used), Is.EqualTo((VirtioBlockStatus.Ok, 21u)));
    }

    [Test]
    public void GET_ID_without_a_serial_returns_the_image_file_name_cut_to_20_bytes()
    {
        using var bed = new BlockTestBed();
        DriverBuffer id = bed.Driver.Writable(20);
        bed.Submit(bed.Header(VirtioBlockRequestType.GetId, 0), id, bed.Status());
        Assert.That(Encoding.ASCII.GetString(bed.Driver.ReadBuffer(id)), Is.EqualTo(Path.GetFileName(bed.ImagePath)[..20]));
    }

    [Test]
    public void GET_ID_into_a_buffer_shorter_than_20_bytes_writes_only_what_fits()
    {
        using var bed = new BlockTestBed(serial: "ABCDEFGHIJKLMNOPQRST");
        DriverBuffer id = bed.Driver.Writable(8, fill: 0x11), status = bed.Status();
        uint used = bed.Submit(bed.Header(VirtioBlockRequestType.GetId, 0), id, status);
        Assert.That(Encoding.ASCII.GetString(bed.Driver.ReadBuffer(id)), Is.EqualTo("ABCDEFGH"));
        Assert.That((bed.StatusOf(status), used), Is.EqualTo((VirtioBlockStatus.Ok, 9u)));
    }

    [TestCase(VirtioBlockRequestType.Discard)]
    [TestCase(VirtioBlockRequestType.WriteZeroes)]
    [TestCase(VirtioBlockRequestType.GetLifetime)]
    [TestCase(VirtioBlockRequestType.SecureErase)]
    [TestCase(0x80000001u)] // the legacy barrier bit with OUT
    [TestCase(2u)]          // VIRTIO_BLK_T_SCSI_CMD, legacy
    public void An_unsupported_request_type_gets_UNSUPP_and_touches_nothing(uint type)
    {
        using var bed = new BlockTestBed();
        DriverBuffer status = bed.Status();
        uint used = bed.Submit(bed.Header(type, 0), bed.Driver.Readable(new byte[512]), status);
        Assert.That((bed.StatusOf(status), used), Is.EqualTo((VirtioBlockStatus.Unsupported, 1u)));
        Assert.That(bed.ImageBytes(), Is.EqualTo(bed.Pattern));
    }
}
