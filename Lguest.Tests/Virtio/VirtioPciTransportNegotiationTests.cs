using Lguest.Tests.Support;
using Lguest.Virtio;
using Moq;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Virtio;

public class VirtioPciTransportNegotiationTests
{
    private const ulong DeviceSpecific = 1UL << 5;

    private Mock<IVirtioDevice> _device = null!;
    private VirtioTestBed _bed = null!;

    [SetUp]
    public void SetUp()
    {
        _device = new Mock<IVirtioDevice>(MockBehavior.Strict);
        _device.SetupGet(d => d.Name).Returns("mock");
        _device.SetupGet(d => d.DeviceType).Returns(VirtioDeviceType.Block);
        _device.SetupGet(d => d.DeviceFeatures).Returns(DeviceSpecific | VirtioFeatures.RingEventIndex | VirtioFeatures.NotificationData);
        _device.SetupGet(d => d.QueueMaxSizes).Returns([128]);
        _device.SetupGet(d => d.ConfigSize).Returns(0);
        _device.Setup(d => d.Reset());
        _bed = new VirtioTestBed(_device.Object);
    }

    [TearDown]
    public void TearDown() => _bed.Dispose();

    [Test]
    public void The_transport_offers_version_1_and_withholds_transport_features_it_lacks()
    {
        Assert.That(_bed.DeviceFeatures(), Is.EqualTo(DeviceSpecific | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1));
    }

    [Test]
    public void An_offered_subset_with_version_1_keeps_features_ok()
    {
        Assert.That(_bed.Negotiate(DeviceSpecific | VirtioFeatures.Version1), Is.True);
        Assert.That(_bed.Status, Is.EqualTo(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk));
    }

    [Test]
    public void A_feature_never_offered_is_refused_by_clearing_features_ok()
    {
        Assert.That(_bed.Negotiate(VirtioFeatures.Version1 | VirtioFeatures.NotificationData), Is.False);
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }

    [Test]
    public void A_driver_without_version_1_is_refused()
    {
        Assert.That(_bed.Negotiate(DeviceSpecific), Is.False);
    }

    [Test]
    public void A_feature_past_bit_63_is_refused()
    {
        _bed.SetStatus(VirtioDeviceStatus.Acknowledge);
        _bed.AddStatus(VirtioDeviceStatus.Driver);
        _bed.WriteDriverFeatures(VirtioFeatures.Version1);
        _bed.Write(DriverFeatureSelect, 4, 2);
        _bed.Write(DriverFeature, 4, 1);
        _bed.AddStatus(VirtioDeviceStatus.FeaturesOk);
        Assert.That(_bed.Status.HasFlag(VirtioDeviceStatus.FeaturesOk), Is.False);
    }

    [Test]
    public void Driver_feature_reads_back_what_the_driver_wrote()
    {
        _bed.SetStatus(VirtioDeviceStatus.Acknowledge);
        _bed.AddStatus(VirtioDeviceStatus.Driver);
        _bed.WriteDriverFeatures(VirtioFeatures.Version1 | DeviceSpecific);
        _bed.Write(DriverFeatureSelect, 4, 0);
        Assert.That(_bed.Read(DriverFeature, 4) & 0xffff_ffff, Is.EqualTo(DeviceSpecific));
        _bed.Write(DriverFeatureSelect, 4, 1);
        Assert.That(_bed.Read(DriverFeature, 4) & 0xffff_ffff, Is.EqualTo(1));
    }

    [Test]
    public void Writing_features_before_driver_needs_a_reset()
    {
        _bed.SetStatus(VirtioDeviceStatus.Acknowledge);
        _bed.Write(DriverFeature, 4, 1);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Writing_features_after_features_ok_needs_a_reset()
    {
        Assert.That(_bed.Negotiate(VirtioFeatures.Version1), Is.True);
        _bed.Write(DriverFeatureSelect, 4, 0);
        _bed.Write(DriverFeature, 4, (uint)DeviceSpecific);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Driver_ok_activates_the_device_with_the_accepted_features_and_enabled_queues()
    {
        VirtioActivation? activation = null;
        _device.Setup(d => d.Activate(It.IsAny<VirtioActivation>())).Callback<VirtioActivation>(a => activation = a);

        _bed.BringUp(VirtioFeatures.Version1 | VirtioFeatures.RingEventIndex);

        _device.Verify(d => d.Activate(It.IsAny<VirtioActivation>()), Times.Once);
        Assert.That(_bed.Status, Is.EqualTo(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk | VirtioDeviceStatus.DriverOk));
        Assert.That(activation!.Features, Is.EqualTo(VirtioFeatures.Version1 | VirtioFeatures.RingEventIndex));
        Virtqueue queue = activation.Queues.Single()!;
        Assert.That(queue.Index, Is.Zero);
        Assert.That(queue.Ring.Size, Is.EqualTo(128));
        Assert.That(queue.Ring.EventIndex, Is.True);
        Assert.That(queue.Ring.Addresses.DescriptorTable.Value, Is.EqualTo(VirtioTestBed.Descriptors(0)));
        Assert.That(queue.Ring.Addresses.AvailableRing.Value, Is.EqualTo(VirtioTestBed.DriverArea(0)));
        Assert.That(queue.Ring.Addresses.UsedRing.Value, Is.EqualTo(VirtioTestBed.DeviceArea(0)));
        Assert.That(queue.Notifier, Is.SameAs(_bed.Transport.QueueNotifiers[0]));
    }

    [Test]
    public void A_queue_left_disabled_reaches_the_device_as_null()
    {
        VirtioActivation? activation = null;
        _device.Setup(d => d.Activate(It.IsAny<VirtioActivation>())).Callback<VirtioActivation>(a => activation = a);
        Assert.That(_bed.Negotiate(VirtioFeatures.Version1), Is.True);
        _bed.AddStatus(VirtioDeviceStatus.DriverOk);
        Assert.That(activation!.Queues, Is.EqualTo(new Virtqueue?[] { null }));
    }

    [Test]
    public void Driver_before_acknowledge_needs_a_reset()
    {
        _bed.SetStatus(VirtioDeviceStatus.Driver);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Features_ok_before_driver_needs_a_reset()
    {
        _bed.SetStatus(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.FeaturesOk);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Clearing_a_status_bit_needs_a_reset()
    {
        _bed.SetStatus(VirtioDeviceStatus.Acknowledge);
        _bed.AddStatus(VirtioDeviceStatus.Driver);
        _bed.SetStatus(VirtioDeviceStatus.Driver);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [TestCase(0x10)]
    [TestCase(0x20)]
    [TestCase(0x40)]
    public void Setting_a_bit_that_is_not_the_drivers_needs_a_reset(int bit)
    {
        _bed.SetStatus(VirtioDeviceStatus.Acknowledge | (VirtioDeviceStatus)bit);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Driver_ok_without_features_ok_needs_a_reset()
    {
        Assert.That(_bed.Negotiate(DeviceSpecific), Is.False);
        _bed.AddStatus(VirtioDeviceStatus.DriverOk);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
        _device.Verify(d => d.Activate(It.IsAny<VirtioActivation>()), Times.Never);
    }

    [Test]
    public void Driver_ok_in_the_same_write_as_features_ok_needs_a_reset()
    {
        _bed.SetStatus(VirtioDeviceStatus.Acknowledge);
        _bed.AddStatus(VirtioDeviceStatus.Driver);
        _bed.WriteDriverFeatures(VirtioFeatures.Version1);
        _bed.AddStatus(VirtioDeviceStatus.FeaturesOk | VirtioDeviceStatus.DriverOk);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
        _device.Verify(d => d.Activate(It.IsAny<VirtioActivation>()), Times.Never);
    }

    [Test]
    public void Setting_up_a_queue_without_re_reading_features_ok_needs_a_reset()
    {
        _bed.SetStatus(VirtioDeviceStatus.Acknowledge);
        _bed.AddStatus(VirtioDeviceStatus.Driver);
        _bed.WriteDriverFeatures(VirtioFeatures.Version1);
        _bed.Write(DeviceStatus, 1, (byte)(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk));
        _bed.Write(QueueSize, 2, 64);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Failed_is_accepted_from_the_driver_at_any_time()
    {
        _bed.SetStatus(VirtioDeviceStatus.Acknowledge);
        _bed.AddStatus(VirtioDeviceStatus.Failed);
        Assert.That(_bed.Status, Is.EqualTo(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Failed));
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }

    [Test]
    public void Writing_0_resets_the_device_to_its_initial_state()
    {
        _device.Setup(d => d.Activate(It.IsAny<VirtioActivation>()));
        _device.SetupGet(d => d.ConfigGeneration).Returns(0);
        _bed.BringUp(VirtioFeatures.Version1);
        _bed.Write(DeviceFeatureSelect, 4, 1);
        _bed.Write(QueueSelect, 2, 0);
        _device.Invocations.Clear();

        _bed.SetStatus(VirtioDeviceStatus.None);

        _device.Verify(d => d.Reset(), Times.Once);
        Assert.That(_bed.Status, Is.EqualTo(VirtioDeviceStatus.None));
        Assert.That(_bed.Read(DeviceFeatureSelect, 4) & 0xffff_ffff, Is.Zero);
        Assert.That(_bed.Read(DriverFeature, 4) & 0xffff_ffff, Is.Zero);
        Assert.That(_bed.Read(QueueSize, 2) & 0xffff, Is.EqualTo(128));
        Assert.That(_bed.Read(QueueEnable, 2) & 0xffff, Is.Zero);
        Assert.That(_bed.Read(QueueDesc, 8), Is.Zero);
    }

    [Test]
    public void After_a_reset_the_driver_can_bring_the_device_up_again()
    {
        _device.Setup(d => d.Activate(It.IsAny<VirtioActivation>()));
        _bed.BringUp(VirtioFeatures.Version1);
        _bed.BringUp(VirtioFeatures.Version1);
        _device.Verify(d => d.Activate(It.IsAny<VirtioActivation>()), Times.Exactly(2));
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }

    [Test]
    public void A_reset_clears_device_needs_reset()
    {
        _bed.SetStatus(VirtioDeviceStatus.Driver);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
        _bed.SetStatus(VirtioDeviceStatus.None);
        Assert.That(_bed.Transport.NeedsReset, Is.False);
        Assert.That(_bed.Status, Is.EqualTo(VirtioDeviceStatus.None));
    }
}
