using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Virtio;

// The transport with a device that really runs: a worker thread, real rings in guest memory, the driver's
// notification through the MMIO bus, the interrupt back through INTx and the ISR.
public class VirtioPciTransportDeviceTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    private VirtioTestBed _bed = null!;
    private FillingDevice _device = null!;
    private RingBuilder _ring = null!;

    [SetUp]
    public void SetUp()
    {
        var machine = new FakeVirtualMachine(GuestMemoryLayout.Flat(1 << 20), acceptsNotifyEvents: false);
        _device = new FillingDevice(machine.Memory);
        _bed = new VirtioTestBed(_device, machine: machine);
        _ring = new RingBuilder(machine.Memory, queueSize: 16, VirtioFeatures.RingEventIndex)
        {
            Descriptors = new GuestAddress(VirtioTestBed.Descriptors(0)),
            Available = new GuestAddress(VirtioTestBed.DriverArea(0)),
            Used = new GuestAddress(VirtioTestBed.DeviceArea(0)),
        };
        Assert.That(_bed.Negotiate(VirtioFeatures.Version1 | VirtioFeatures.RingEventIndex), Is.True);
        _bed.SetUpQueue(0, size: 16);
        _bed.AddStatus(VirtioDeviceStatus.DriverOk);
    }

    [TearDown]
    public void TearDown()
    {
        _bed.Dispose();
        _device.Dispose();
        _bed.Machine.Dispose();
    }

    [Test]
    public void A_notified_chain_is_filled_by_the_devices_worker_and_interrupts_the_driver()
    {
        _ring.Descriptor(0, address: 0x80000, length: 64, write: true).MakeAvailable(0);
        _bed.Notify(0);

        Assert.That(_device.Completed.Wait(HangGuard), Is.True);
        Assert.That(_ring.UsedIndex, Is.EqualTo(1));
        Assert.That(_ring.UsedElement(0), Is.EqualTo(new VringUsedElement(0, 64)));
        Assert.That(_bed.Machine.Memory.GetSpan(new GuestAddress(0x80000), 64).ToArray(), Is.All.EqualTo(0x5a));
        Assert.That(_bed.Line.IsAsserted, Is.True);
        Assert.That(_bed.ReadIsr(), Is.EqualTo(IsrQueue));
        Assert.That(_bed.Line.IsAsserted, Is.False);
    }

    [Test]
    public void A_looping_chain_puts_only_this_device_in_needs_reset_and_a_reset_brings_it_back()
    {
        _ring.Descriptor(0, address: 0x80000, length: 64, write: true, next: 1)
             .Descriptor(1, address: 0x81000, length: 64, write: true, next: 0)
             .MakeAvailable(0);
        _bed.Notify(0);

        Assert.That(_device.Broke.Wait(HangGuard), Is.True);
        Assert.That(_bed.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset), Is.True);
        Assert.That(_bed.ReadIsr(), Is.EqualTo(IsrConfig));

        _device.Broke.Reset();
        var fresh = new RingBuilder(_bed.Machine.Memory, queueSize: 16, VirtioFeatures.RingEventIndex)
        {
            Descriptors = _ring.Descriptors, Available = _ring.Available, Used = _ring.Used,
        };
        _bed.Machine.Memory.Clear(new GuestAddress(VirtioTestBed.Descriptors(0)), VirtioTestBed.RingStride);
        Assert.That(_bed.Negotiate(VirtioFeatures.Version1 | VirtioFeatures.RingEventIndex), Is.True);
        _bed.SetUpQueue(0, size: 16);
        _bed.AddStatus(VirtioDeviceStatus.DriverOk);
        fresh.Descriptor(0, address: 0x80000, length: 8, write: true).MakeAvailable(0);
        _bed.Notify(0);

        Assert.That(_device.Completed.Wait(HangGuard), Is.True);
        Assert.That(fresh.UsedIndex, Is.EqualTo(1));
        Assert.That(_bed.Transport.NeedsReset, Is.False);
    }
}
