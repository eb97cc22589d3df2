using Lguest.Tests.Support;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Virtio;

public class VirtioPciTransportRegisterTests
{
    private const ulong Offered = VirtioFeatures.RingEventIndex | 1;

    private FakeVirtioDevice _device = null!;
    private VirtioTestBed _bed = null!;

    [SetUp]
    public void SetUp()
    {
        _device = new FakeVirtioDevice(features: Offered, queueSizes: [256, 64]) { ConfigGeneration = 7 };
        _bed = new VirtioTestBed(_device);
    }

    [TearDown]
    public void TearDown() => _bed.Dispose();

    // Every field of struct virtio_pci_common_cfg at its offset and natural width, with its value after reset.
    private static readonly object[] Fields =
    [
        new object[] { DeviceFeatureSelect, 4, 0UL },
        new object[] { DeviceFeature, 4, (Offered | VirtioFeatures.Version1) & 0xffff_ffff },
        new object[] { DriverFeatureSelect, 4, 0UL },
        new object[] { DriverFeature, 4, 0UL },
        new object[] { ConfigMsixVector, 2, 0xffffUL },
        new object[] { NumQueues, 2, 2UL },
        new object[] { DeviceStatus, 1, 0UL },
        new object[] { ConfigGeneration, 1, 7UL },
        new object[] { QueueSelect, 2, 0UL },
        new object[] { QueueSize, 2, 256UL },
        new object[] { QueueMsixVector, 2, 0xffffUL },
        new object[] { QueueEnable, 2, 0UL },
        new object[] { QueueNotifyOff, 2, 0UL },
        new object[] { QueueDesc, 8, 0UL },
        new object[] { QueueDesc, 4, 0UL },
        new object[] { QueueDesc + 4, 4, 0UL },
        new object[] { QueueDriver, 8, 0UL },
        new object[] { QueueDriver + 4, 4, 0UL },
        new object[] { QueueDevice, 8, 0UL },
        new object[] { QueueDevice + 4, 4, 0UL },
    ];

    [TestCaseSource(nameof(Fields))]
    public void Each_common_field_reads_its_reset_value_at_its_offset_and_width(int offset, int width, ulong expected)
    {
        Assert.That(_bed.Read(offset, width) & Mask(width), Is.EqualTo(expected));
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }

    private static IEnumerable<TestCaseData> WrongWidths()
    {
        foreach ((int offset, int width) in new[]
        {
            (DeviceFeatureSelect, 4), (DeviceFeature, 4), (DriverFeatureSelect, 4), (DriverFeature, 4), (ConfigMsixVector, 2),
            (NumQueues, 2), (DeviceStatus, 1), (ConfigGeneration, 1), (QueueSelect, 2), (QueueSize, 2), (QueueMsixVector, 2),
            (QueueEnable, 2), (QueueNotifyOff, 2),
        })
        {
            foreach (int wrong in new[] { 1, 2, 4, 8 }.Where(w => w != width))
                yield return new TestCaseData(offset, wrong).SetName($"A {wrong}-byte access at 0x{offset:x2} needs a reset");
        }
        foreach (int field in new[] { QueueDesc, QueueDriver, QueueDevice })
        {
            yield return new TestCaseData(field, 1).SetName($"A 1-byte access at 0x{field:x2} needs a reset");
            yield return new TestCaseData(field, 2).SetName($"A 2-byte access at 0x{field:x2} needs a reset");
            yield return new TestCaseData(field + 4, 8).SetName($"An 8-byte access at 0x{field + 4:x2} needs a reset");
            yield return new TestCaseData(field + 2, 4).SetName($"A 4-byte access at 0x{field + 2:x2} needs a reset");
        }
        yield return new TestCaseData(0x01, 1).SetName("A byte inside device_feature_select needs a reset");
        yield return new TestCaseData(0x13, 1).SetName("A byte inside num_queues needs a reset");
        yield return new TestCaseData(Size, 2).SetName("An access past the common configuration needs a reset");
        yield return new TestCaseData(0xffc, 4).SetName("An access at the end of the common page needs a reset");
    }

    [TestCaseSource(nameof(WrongWidths))]
    public void Reads_at_a_wrong_width_or_offset_need_a_reset(int offset, int width)
    {
        _ = _bed.Read(offset, width);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
        Assert.That(_bed.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset), Is.True);
    }

    [TestCaseSource(nameof(WrongWidths))]
    public void Writes_at_a_wrong_width_or_offset_need_a_reset(int offset, int width)
    {
        _bed.Write(offset, width, 0);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [TestCase(DeviceFeature, 4)]
    [TestCase(NumQueues, 2)]
    [TestCase(ConfigGeneration, 1)]
    [TestCase(QueueNotifyOff, 2)]
    public void Writing_a_read_only_field_needs_a_reset(int offset, int width)
    {
        _bed.Write(offset, width, 1);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Device_feature_shows_the_dword_device_feature_select_names()
    {
        _bed.Write(DeviceFeatureSelect, 4, 1);
        Assert.That(_bed.Read(DeviceFeature, 4) & 0xffff_ffff, Is.EqualTo(1)); // VIRTIO_F_VERSION_1 is bit 32
        _bed.Write(DeviceFeatureSelect, 4, 2);
        Assert.That(_bed.Read(DeviceFeature, 4) & 0xffff_ffff, Is.Zero);
        _bed.Write(DeviceFeatureSelect, 4, 0xffff_ffff);
        Assert.That(_bed.Read(DeviceFeature, 4) & 0xffff_ffff, Is.Zero);
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }

    [Test]
    public void Queue_fields_describe_the_selected_queue()
    {
        _bed.Write(QueueSelect, 2, 1);
        Assert.That(_bed.Read(QueueSize, 2) & 0xffff, Is.EqualTo(64));
        Assert.That(_bed.Read(QueueNotifyOff, 2) & 0xffff, Is.EqualTo(1));
    }

    [Test]
    public void A_queue_that_does_not_exist_reads_size_0()
    {
        _bed.Write(QueueSelect, 2, 2);
        Assert.That(_bed.Read(QueueSize, 2) & 0xffff, Is.Zero);
        Assert.That(_bed.Read(QueueEnable, 2) & 0xffff, Is.Zero);
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }

    [Test]
    public void Queue_addresses_are_written_by_halves_and_read_whole_or_by_halves()
    {
        Assert.That(_bed.Negotiate(), Is.True);
        _bed.Write(QueueSelect, 2, 1);
        _bed.Write(QueueDesc, 4, 0x8765_4320);
        _bed.Write(QueueDesc + 4, 4, 0x1);
        _bed.Write(QueueDriver, 8, 0x2_0000_1000);
        Assert.That(_bed.Read(QueueDesc, 8), Is.EqualTo(0x1_8765_4320UL));
        Assert.That(_bed.Read(QueueDesc + 4, 4) & 0xffff_ffff, Is.EqualTo(1));
        Assert.That(_bed.Read(QueueDriver, 4) & 0xffff_ffff, Is.EqualTo(0x1000));
        Assert.That(_bed.Read(QueueDriver + 4, 4) & 0xffff_ffff, Is.EqualTo(2));
    }

    [Test]
    public void Each_queue_keeps_its_own_set_up()
    {
        Assert.That(_bed.Negotiate(), Is.True);
        _bed.SetUpQueue(0, size: 128, enable: false);
        _bed.SetUpQueue(1, size: 32, descriptors: 0x40000, enable: false);
        _bed.Write(QueueSelect, 2, 0);
        Assert.That(_bed.Read(QueueSize, 2) & 0xffff, Is.EqualTo(128));
        Assert.That(_bed.Read(QueueDesc, 8), Is.EqualTo(VirtioTestBed.Descriptors(0)));
        _bed.Write(QueueSelect, 2, 1);
        Assert.That(_bed.Read(QueueSize, 2) & 0xffff, Is.EqualTo(32));
        Assert.That(_bed.Read(QueueDesc, 8), Is.EqualTo(0x40000UL));
    }

    [Test]
    public void Msix_vectors_read_back_no_vector_after_a_write()
    {
        _bed.Write(ConfigMsixVector, 2, 0);
        _bed.Write(QueueMsixVector, 2, 1);
        Assert.That(_bed.Read(ConfigMsixVector, 2) & 0xffff, Is.EqualTo(NoVector));
        Assert.That(_bed.Read(QueueMsixVector, 2) & 0xffff, Is.EqualTo(NoVector));
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }

    [Test]
    public void Config_generation_follows_the_device()
    {
        _device.ConfigGeneration = 9;
        Assert.That(_bed.Read(ConfigGeneration, 1) & 0xff, Is.EqualTo(9));
    }

    [TestCase(0, 1)]
    [TestCase(2, 2)]
    [TestCase(4, 4)]
    [TestCase(0, 8)]
    public void Device_configuration_reads_reach_the_device_at_every_width(int offset, int width)
    {
        ulong value = _bed.Read(VirtioPciTransport.DeviceConfigOffset + offset, width);
        byte[] expected = _device.Config.AsSpan(offset, width).ToArray();
        Assert.That(BitConverter.GetBytes(value).Take(width), Is.EqualTo(expected));
        Assert.That(_device.ConfigAccesses.Single(), Is.EqualTo(("read", offset, expected)));
    }

    [Test]
    public void Device_configuration_writes_reach_the_device()
    {
        _bed.Write(VirtioPciTransport.DeviceConfigOffset + 4, 2, 0xbeef);
        Assert.That(_device.ConfigAccesses.Single(), Is.EqualTo(("write", 4, new byte[] { 0xef, 0xbe })));
    }

    [TestCase(8, 1)]
    [TestCase(6, 4)]
    [TestCase(0x100, 2)]
    public void Device_configuration_accesses_past_its_end_need_a_reset_and_never_reach_the_device(int offset, int width)
    {
        _ = _bed.Read(VirtioPciTransport.DeviceConfigOffset + offset, width);
        _bed.Write(VirtioPciTransport.DeviceConfigOffset + offset, width, 0);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
        Assert.That(_device.ConfigAccesses, Is.Empty);
    }

    [TestCase(3)]
    [TestCase(5)]
    [TestCase(16)]
    public void An_access_of_an_impossible_width_needs_a_reset(int width)
    {
        _bed.Transport.Bar.Region.Read(DeviceStatus, new byte[width]);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    private static ulong Mask(int width) => width == 8 ? ulong.MaxValue : (1UL << (8 * width)) - 1;
}
