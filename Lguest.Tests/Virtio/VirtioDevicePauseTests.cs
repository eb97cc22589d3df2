using Lguest.Memory;
using Lguest.Tests.Devices;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Virtio;

/// <summary>
/// Pausing a device on the public base: its workers stop (nothing is served while paused, however the driver
/// notifies), the activation and the rings' positions stay, and resuming serves what came meanwhile, in order.
/// </summary>
public class VirtioDevicePauseTests
{
    private sealed class Bed : IDisposable
    {
        public Bed()
        {
            Memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
            Transport = new RecordingVirtioTransport();
            Driver = new VirtqueueDriver(Memory, 0, 16, VirtioFeatures.Version1, new GuestAddress(0x10000), new GuestArena(new GuestAddress(0x40000), 0x10000));
            Activation = new VirtioActivation(VirtioFeatures.Version1, [Driver.CreateQueue("echo vq 0")], Transport);
            Device = new EchoDevice(Memory);
        }

        public GuestMemory Memory { get; }

        public RecordingVirtioTransport Transport { get; }

        public VirtqueueDriver Driver { get; }

        public VirtioActivation Activation { get; }

        public EchoDevice Device { get; }

        public ushort Echo(byte value)
        {
            ushort head = Driver.Add(Driver.Readable([value]), Driver.Writable(1));
            Driver.Kick();
            return head;
        }

        public void Dispose()
        {
            Device.Reset();
            Driver.Dispose();
            Transport.Dispose();
            Memory.Dispose();
        }
    }

    [Test]
    public void A_paused_device_serves_nothing_and_resuming_serves_what_came_meanwhile_in_order()
    {
        using var bed = new Bed();
        bed.Device.Activate(bed.Activation);
        bed.Echo(1);
        Assert.That(bed.Driver.WaitForUsed(bed.Transport).Length, Is.EqualTo(1u));

        bed.Device.Pause();
        ushort second = bed.Echo(2);
        ushort third = bed.Echo(3);
        Thread.Sleep(200);
        Assert.That((bed.Driver.UsedIndex, bed.Device.Echoed), Is.EqualTo((1, 1)), "nothing served while paused, notified or not");

        bed.Device.Resume();
        List<VringUsedElement> used = bed.Driver.WaitForUsed(bed.Transport, 2);
        Assert.That(used.Select(u => u.Id), Is.EqualTo(new uint[] { second, third }), "the ring goes on from where it was");
        Assert.That(bed.Device.Echoed, Is.EqualTo(3));
    }

    [Test]
    public void Pause_and_resume_are_idempotent_and_do_nothing_on_a_device_never_activated()
    {
        using var bed = new Bed();
        bed.Device.Pause();
        bed.Device.Resume();
        bed.Device.Activate(bed.Activation);
        bed.Device.Pause();
        bed.Device.Pause();
        bed.Device.Resume();
        bed.Device.Resume();
        bed.Echo(7);
        Assert.That(bed.Driver.WaitForUsed(bed.Transport).Length, Is.EqualTo(1u), "one worker serves after the second resume");
    }

    [Test]
    public void A_reset_while_paused_ends_the_activation_and_resume_then_starts_nothing()
    {
        using var bed = new Bed();
        bed.Device.Activate(bed.Activation);
        bed.Device.Pause();
        bed.Device.Reset();
        bed.Device.Resume();
        bed.Echo(9);
        Thread.Sleep(200);
        Assert.That(bed.Driver.UsedIndex, Is.EqualTo(0), "no worker after a reset");
    }

    [Test]
    public void Workers_stopped_for_a_pause_say_so_and_those_stopped_for_a_reset_do_not()
    {
        using var transport = new RecordingVirtioTransport();
        var paused = new DeviceWorkers("w", transport);
        var reset = new DeviceWorkers("w", transport);
        bool? seenPausing = null;
        paused.Start("w0", () =>
        {
            paused.Stop.Wait();
            seenPausing = paused.IsPausing;
        });
        paused.PauseAndJoin();
        reset.StopAndJoin();
        Assert.That((seenPausing, reset.IsPausing), Is.EqualTo(((bool?)true, false)));
    }
}
