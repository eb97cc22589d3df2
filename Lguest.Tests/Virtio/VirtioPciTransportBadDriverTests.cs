using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;
using Moq;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Virtio;

public class VirtioPciTransportBadDriverTests
{
    [Test]
    public void A_bad_driver_is_logged_once_however_often_it_misbehaves()
    {
        var logger = new RecordingLogger<VirtioPciTransport>();
        using var bed = new VirtioTestBed(new FakeVirtioDevice("rng"), logger: logger);
        _ = bed.Read(0x40, 4);
        _ = bed.Read(0x44, 4);
        bed.Write(QueueSelect, 1, 0);

        var warnings = logger.Entries.Where(e => e.Level == LogLevel.Warning).ToList();
        Assert.That(warnings, Has.Count.EqualTo(1));
        Assert.That(warnings[0].Message, Does.StartWith("rng: bad driver: read from padding (4 byte(s) at offset 64)"));
    }

    [Test]
    public void After_a_reset_a_new_breakage_is_logged_again()
    {
        var logger = new RecordingLogger<VirtioPciTransport>();
        using var bed = new VirtioTestBed(new FakeVirtioDevice(), logger: logger);
        _ = bed.Read(0x40, 4);
        bed.SetStatus(VirtioDeviceStatus.None);
        _ = bed.Read(0x40, 4);
        Assert.That(logger.Entries.Count(e => e.Level == LogLevel.Warning), Is.EqualTo(2));
    }

    [Test]
    public void A_broken_device_ignores_the_drivers_writes_until_it_resets()
    {
        using var bed = new VirtioTestBed(new FakeVirtioDevice());
        _ = bed.Read(0x40, 4);
        bed.Write(QueueSelect, 2, 1);
        bed.SetStatus(VirtioDeviceStatus.Acknowledge);
        Assert.That(bed.Read(QueueSelect, 2) & 0xffff, Is.Zero);
        Assert.That(bed.Status, Is.EqualTo(VirtioDeviceStatus.DeviceNeedsReset));
    }

    [Test]
    public void A_live_device_that_breaks_sends_a_configuration_change_interrupt_and_stops()
    {
        var device = new FakeVirtioDevice();
        using var bed = new VirtioTestBed(device);
        bed.BringUp();
        int resets = device.Resets;

        bed.Write(QueueDesc, 4, 0); // changing a live queue

        Assert.That(bed.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset), Is.True);
        Assert.That(bed.Line.IsAsserted, Is.True);
        Assert.That(bed.ReadIsr(), Is.EqualTo(IsrConfig));
        Assert.That(device.Resets, Is.EqualTo(resets + 1));
        Assert.That(bed.Machine.NotifyEvents, Is.Empty);
    }

    [Test]
    public void A_device_that_breaks_before_driver_ok_raises_no_interrupt()
    {
        using var bed = new VirtioTestBed(new FakeVirtioDevice());
        bed.SetStatus(VirtioDeviceStatus.Driver);
        Assert.That(bed.Transport.NeedsReset, Is.True);
        Assert.That(bed.Line.RisingEdges, Is.Zero);
    }

    [Test]
    public void A_bad_chain_reported_by_the_device_needs_a_reset_with_a_configuration_change_interrupt()
    {
        var device = new FakeVirtioDevice();
        using var bed = new VirtioTestBed(device);
        bed.BringUp();
        device.Active!.Transport.ReportBadDriver(new BadDriverException("fake vq 0", "descriptor chain loops"));
        Assert.That(bed.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset), Is.True);
        Assert.That(bed.ReadIsr(), Is.EqualTo(IsrConfig));
    }

    [Test]
    public void A_bad_chain_found_by_a_worker_does_not_make_the_worker_wait_for_itself()
    {
        var device = new Mock<IVirtioDevice>(MockBehavior.Strict);
        device.SetupGet(d => d.Name).Returns("mock");
        device.SetupGet(d => d.DeviceType).Returns(VirtioDeviceType.Entropy);
        device.SetupGet(d => d.DeviceFeatures).Returns(0UL);
        device.SetupGet(d => d.QueueMaxSizes).Returns([16]);
        device.SetupGet(d => d.ConfigSize).Returns(0);
        device.Setup(d => d.Reset());
        VirtioActivation? activation = null;
        device.Setup(d => d.Activate(It.IsAny<VirtioActivation>())).Callback<VirtioActivation>(a => activation = a);
        using var bed = new VirtioTestBed(device.Object);
        bed.BringUp();
        device.Invocations.Clear();

        activation!.Transport.ReportBadDriver(new BadDriverException("mock vq 0", "descriptor chain loops"));

        device.Verify(d => d.Reset(), Times.Never); // the worker stops itself; the transport resets the device when the driver does
        Assert.That(bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Strict_mode_throws_the_seeds_message_from_the_register_access()
    {
        BadDriverException? fatal = null;
        using var bed = new VirtioTestBed(new FakeVirtioDevice("console"), new VirtioPciTransportOptions { Strict = true, Fatal = e => fatal = e });
        Assert.That(() => bed.Write(NumQueues, 2, 1),
            Throws.TypeOf<BadDriverException>().With.Message.EqualTo("console: bad driver: Unexpected write to offset 18 (0x1 to read-only num_queues)"));
        Assert.That(fatal!.Device, Is.EqualTo("console"));
        Assert.That(bed.Transport.NeedsReset, Is.True);
    }

    [Test]
    public void Strict_mode_calls_fatal_for_a_bad_chain_reported_by_a_worker_without_throwing_into_it()
    {
        BadDriverException? fatal = null;
        var device = new FakeVirtioDevice();
        using var bed = new VirtioTestBed(device, new VirtioPciTransportOptions { Strict = true, Fatal = e => fatal = e });
        bed.BringUp();
        var error = new BadDriverException("fake vq 0", "descriptor chain loops");
        device.Active!.Transport.ReportBadDriver(error);
        Assert.That(fatal, Is.SameAs(error));
    }

    [Test]
    public void A_bad_driver_costs_only_its_own_device()
    {
        var broken = new FakeVirtioDevice("broken");
        var healthy = new FakeVirtioDevice("healthy");
        using var first = new VirtioTestBed(broken);
        using var second = new VirtioTestBed(healthy, machine: first.Machine, bus: first.Bus, mmio: first.Mmio);

        first.BringUp();
        first.Write(QueueEnable, 2, 1); // enabling twice
        second.BringUp();
        second.Notify(1);
        healthy.Active!.Transport.SignalUsedBuffers(1);

        Assert.That(first.Transport.NeedsReset, Is.True);
        Assert.That(second.Transport.NeedsReset, Is.False);
        Assert.That(second.Status.HasFlag(VirtioDeviceStatus.DriverOk), Is.True);
        Assert.That(second.Transport.QueueNotifiers[1].IsSignalled, Is.True);
        Assert.That(second.ReadIsr(), Is.EqualTo(IsrQueue));
    }
}
