using Lguest.Tests.Support;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Virtio;

public class VirtioPciTransportQueueTests
{
    private FakeVirtioDevice _device = null!;
    private VirtioTestBed _bed = null!;

    [SetUp]
    public void SetUp()
    {
        _device = new FakeVirtioDevice(queueSizes: [256, 64]);
        _bed = new VirtioTestBed(_device);
        Assert.That(_bed.Negotiate(), Is.True);
    }

    [TearDown]
    public void TearDown() => _bed.Dispose();

    [Test]
    public void A_queue_set_up_within_the_rules_enables()
    {
        _bed.SetUpQueue(0, size: 128);
        Assert.That(_bed.Read(QueueEnable, 2) & 0xffff, Is.EqualTo(1));
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }

    [Test]
    public void Queue_set_up_before_features_ok_needs_a_reset()
    {
        _bed.SetStatus(VirtioDeviceStatus.None);
        _bed.SetStatus(VirtioDeviceStatus.Acknowledge);
        _bed.AddStatus(VirtioDeviceStatus.Driver);
        _bed.Write(QueueDesc, 4, 0x10000);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [TestCase((ushort)0, TestName = "A queue size of 0 needs a reset")]
    [TestCase((ushort)100, TestName = "A queue size that is not a power of two needs a reset")]
    [TestCase((ushort)512, TestName = "A queue size above the maximum needs a reset")]
    public void A_bad_queue_size_needs_a_reset(ushort size)
    {
        _bed.Write(QueueSelect, 2, 0);
        _bed.Write(QueueSize, 2, size);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [TestCase(0x10008UL, 0x12000UL, 0x13000UL, TestName = "Descriptors not 16-byte aligned need a reset")]
    [TestCase(0x10000UL, 0x12001UL, 0x13000UL, TestName = "A driver area not 2-byte aligned needs a reset")]
    [TestCase(0x10000UL, 0x12000UL, 0x13002UL, TestName = "A device area not 4-byte aligned needs a reset")]
    [TestCase(0xff800UL, 0x12000UL, 0x13000UL, TestName = "Descriptors running past the end of memory need a reset")]
    [TestCase(0x10000UL, 0x100000UL, 0x13000UL, TestName = "A driver area outside memory needs a reset")]
    [TestCase(0x10000UL, 0x12000UL, 0xffff_ffff_ffff_f000UL, TestName = "A device area near 2^64 needs a reset")]
    public void Enabling_a_misplaced_queue_needs_a_reset(ulong descriptors, ulong driver, ulong device)
    {
        _bed.SetUpQueue(0, size: 256, descriptors: descriptors, driver: driver, device: device);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
        Assert.That(_bed.Read(QueueEnable, 2) & 0xffff, Is.Zero);
    }

    [TestCase(0x10000UL, 0x12000UL, 0x10000UL, TestName = "A device area over the descriptor table needs a reset")]
    [TestCase(0x10000UL, 0x12000UL, 0x10ffcUL, TestName = "A device area over the descriptor table's last bytes needs a reset")]
    [TestCase(0x10000UL, 0x12000UL, 0x12000UL, TestName = "A device area over the driver area needs a reset")]
    [TestCase(0x10000UL, 0x12000UL, 0x11ffcUL, TestName = "A device area running into the driver area needs a reset")]
    public void Enabling_a_queue_whose_device_area_overlaps_another_part_needs_a_reset(ulong descriptors, ulong driver, ulong device)
    {
        _bed.SetUpQueue(0, size: 256, descriptors: descriptors, driver: driver, device: device);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
        Assert.That(_bed.Read(QueueEnable, 2) & 0xffff, Is.Zero);
    }

    [Test]
    public void Parts_that_touch_without_overlapping_enable()
    {
        // size 256: descriptors [0x10000, 0x11000), driver area [0x11000, 0x11206), device area from 0x11208 (4-aligned).
        _bed.SetUpQueue(0, size: 256, descriptors: 0x10000, driver: 0x11000, device: 0x11208);
        Assert.That(_bed.Transport.NeedsReset, Is.False);
        Assert.That(_bed.Read(QueueEnable, 2) & 0xffff, Is.EqualTo(1));
    }

    [Test]
    public void Enabling_a_queue_twice_needs_a_reset()
    {
        _bed.SetUpQueue(0);
        _bed.Write(QueueEnable, 2, 1);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Writing_0_to_queue_enable_needs_a_reset()
    {
        _bed.SetUpQueue(0, enable: false);
        _bed.Write(QueueEnable, 2, 0);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Changing_an_enabled_queue_needs_a_reset()
    {
        _bed.SetUpQueue(0);
        _bed.Write(QueueDesc, 4, 0x20000);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Resizing_an_enabled_queue_needs_a_reset()
    {
        _bed.SetUpQueue(0);
        _bed.Write(QueueSize, 2, 64);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Setting_up_a_queue_that_does_not_exist_needs_a_reset()
    {
        _bed.Write(QueueSelect, 2, 2);
        _bed.Write(QueueDesc, 4, 0x10000);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Enabling_a_queue_after_driver_ok_needs_a_reset()
    {
        _bed.SetUpQueue(0);
        _bed.AddStatus(VirtioDeviceStatus.DriverOk);
        _bed.SetUpQueue(1);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void The_rings_a_device_receives_lie_inside_guest_memory()
    {
        _bed.SetUpQueue(0);
        _bed.SetUpQueue(1);
        _bed.AddStatus(VirtioDeviceStatus.DriverOk);
        foreach (Virtqueue q in _device.Active!.Queues.OfType<Virtqueue>())
        {
            Assert.That(_bed.Machine.Memory.IsValidRange(q.Ring.Addresses.DescriptorTable, 16UL * (ulong)q.Ring.Size), Is.True);
            Assert.That(_bed.Machine.Memory.IsValidRange(q.Ring.Addresses.UsedRing, 6 + 8UL * (ulong)q.Ring.Size), Is.True);
        }
    }

    [Test]
    public void A_device_refusing_its_activation_needs_a_reset()
    {
        _device.OnActivate = _ => throw new BadDriverException("fake", "the receive queue is not enabled");
        _bed.SetUpQueue(1);
        _bed.AddStatus(VirtioDeviceStatus.DriverOk);
        Assert.That(_bed.Transport.NeedsReset, Is.True);
    }
}
