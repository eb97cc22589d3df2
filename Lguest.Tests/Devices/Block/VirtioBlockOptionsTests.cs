using Lguest.Devices;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Tests.Devices.Block;

/// <summary>The block device's options and how its factory opens the image.</summary>
public class VirtioBlockOptionsTests
{
    private string _path = null!;

    [SetUp]
    public void CreateImage()
    {
        _path = Path.Combine(Path.GetTempPath(), $"lguest-blk-{Guid.NewGuid():N}.img");
        File.WriteAllBytes(_path, new byte[64 * 1024]);
    }

    [TearDown]
    public void DeleteImage() => File.Delete(_path);

    [Test]
    public void An_empty_path_is_refused_naming_the_option()
    {
        Assert.That(() => new VirtioBlockOptions { Path = " " }.Validate(),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("Path"));
    }

    [TestCase("twenty-one-characters")]
    [TestCase("tab\there")]
    [TestCase("caf\u00e9")]
    public void A_serial_that_is_not_printable_ASCII_of_at_most_20_characters_is_refused(string serial)
    {
        Assert.That(() => new VirtioBlockOptions { Path = "x", Serial = serial }.Validate(),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("Serial"));
    }

    [Test]
    public void Workers_poll_for_up_to_32_µs_by_default()
    {
        Assert.That(new VirtioBlockOptions().MaxPollTime, Is.EqualTo(TimeSpan.FromMicroseconds(32)));
        Assert.That(new VirtioNetOptions().MaxPollTime, Is.EqualTo(TimeSpan.FromMicroseconds(32)));
    }

    [TestCase(-1)]
    [TestCase(1001)]
    public void A_poll_time_outside_0_to_1_ms_is_refused_naming_the_option(int microseconds)
    {
        TimeSpan poll = TimeSpan.FromMicroseconds(microseconds);
        Assert.That(() => new VirtioBlockOptions { Path = "x", MaxPollTime = poll }.Validate(),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("MaxPollTime"));
        Assert.That(() => new VirtioNetOptions { MaxPollTime = poll }.Validate(),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("MaxPollTime"));
    }

    [TestCase(0)]
    [TestCase(1000)]
    public void A_poll_time_from_0_to_1_ms_is_accepted(int microseconds)
    {
        TimeSpan poll = TimeSpan.FromMicroseconds(microseconds);
        Assert.That(() => new VirtioBlockOptions { Path = "x", MaxPollTime = poll }.Validate(), Throws.Nothing);
        Assert.That(() => new VirtioNetOptions { MaxPollTime = poll }.Validate(), Throws.Nothing);
    }

    [TestCase((ushort)0)]
    [TestCase((ushort)2)]
    [TestCase((ushort)96)]
    public void A_queue_size_that_is_not_a_power_of_two_of_at_least_4_is_refused(ushort size)
    {
        Assert.That(() => new VirtioBlockOptions { Path = "x", QueueSize = size }.Validate(),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("QueueSize"));
    }

    [Test]
    public void A_file_name_with_unprintable_characters_becomes_a_serial_with_underscores()
    {
        byte[] id = new VirtioBlockOptions { Path = "/images/my disk\u00e9.img" }.IdBytes();
        Assert.That(System.Text.Encoding.ASCII.GetString(id).TrimEnd('\0'), Is.EqualTo("my_disk_.img"));
    }

    [Test]
    public void A_missing_image_is_refused_with_a_disk_image_error_naming_it()
    {
        using var factory = new VirtioBlockFactory(new VirtioBlockOptions { Path = _path + ".missing" }, NullLogger<VirtioBlockDevice>.Instance);
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        Assert.That(() => factory.Create(memory),
            Throws.TypeOf<DiskImageException>().With.Message.Contains(".missing").And.Message.Contains("not found"));
    }

    [Test]
    public void A_directory_is_refused_with_a_disk_image_error()
    {
        Assert.That(() => VirtioBlockFactory.Open(new VirtioBlockOptions { Path = Path.GetTempPath() }),
            Throws.TypeOf<DiskImageException>().With.Message.Contains("directory"));
    }

    [Test]
    public void A_read_only_disk_opens_its_image_read_only()
    {
        using SafeFileHandle file = VirtioBlockFactory.Open(new VirtioBlockOptions { Path = _path, ReadOnly = true });
        Assert.That(() => RandomAccess.Write(file, new byte[512], 0), Throws.InstanceOf<UnauthorizedAccessException>().Or.InstanceOf<IOException>());
        Assert.That(File.ReadAllBytes(_path), Is.All.Zero);
    }

    [Test]
    public void A_writable_disk_opens_its_image_for_writing()
    {
        using SafeFileHandle file = VirtioBlockFactory.Open(new VirtioBlockOptions { Path = _path });
        RandomAccess.Write(file, new byte[] { 1 }, 0);
        Assert.That(RandomAccess.GetLength(file), Is.EqualTo(64 * 1024));
    }

    [Test]
    public void A_second_writer_of_the_same_image_is_refused()
    {
        var options = new VirtioBlockOptions { Path = _path };
        using SafeFileHandle first = VirtioBlockFactory.Open(options);
        Assert.That(() => VirtioBlockFactory.Open(options), Throws.TypeOf<DiskImageException>());
    }

    [Test]
    public void The_factory_keeps_one_image_handle_across_boots_and_closes_it_when_disposed()
    {
        var options = new VirtioBlockOptions { Path = _path };
        var factory = new VirtioBlockFactory(options, NullLogger<VirtioBlockDevice>.Instance);
        using (GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20)))
        {
            IVirtioDevice first = factory.Create(memory);
            IVirtioDevice second = factory.Create(memory);
            Assert.That(second, Is.Not.SameAs(first));
        }
        Assert.That(() => VirtioBlockFactory.Open(options), Throws.TypeOf<DiskImageException>(), "still open while the factory lives");
        factory.Dispose();
        using SafeFileHandle reopened = VirtioBlockFactory.Open(options);
        Assert.That(reopened.IsInvalid, Is.False);
    }
}
