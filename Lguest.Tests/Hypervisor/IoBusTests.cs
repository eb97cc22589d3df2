using Lguest.Hypervisor;
using Lguest.Tests.Support;

namespace Lguest.Tests.Hypervisor;

public class IoBusTests
{
    [Test]
    public void A_read_reaches_the_device_with_the_offset_inside_its_range()
    {
        var device = new RecordingIoDevice(readValue: 0x60);
        var bus = new IoBus("pio");
        bus.Register(0x3f8, 8, device);
        var data = new byte[1];

        Assert.That(bus.TryRead(0x3fa, data), Is.True);
        Assert.That(device.Accesses.Single(), Is.EqualTo(("read", 2UL, new byte[] { 0x60 })));
        Assert.That(data[0], Is.EqualTo(0x60));
    }

    [Test]
    public void A_write_reaches_the_device_with_its_bytes()
    {
        var device = new RecordingIoDevice();
        var bus = new IoBus("mmio");
        bus.Register(0xc000_0000, 0x1000, device);

        Assert.That(bus.TryWrite(0xc000_0004, [1, 2, 3, 4]), Is.True);
        Assert.That(device.Accesses.Single(), Is.EqualTo(("write", 4UL, new byte[] { 1, 2, 3, 4 })));
    }

    [Test]
    public void An_unclaimed_read_returns_all_ones()
    {
        var bus = new IoBus("pio");
        var data = new byte[2];
        bus.Read(0x80, data);
        Assert.That(data, Is.EqualTo(new byte[] { 0xff, 0xff }));
    }

    [Test]
    public void An_access_running_past_the_end_of_a_device_is_not_its()
    {
        var device = new RecordingIoDevice();
        var bus = new IoBus("pio");
        bus.Register(0x60, 1, device);
        Assert.That(bus.TryRead(0x60, new byte[2]), Is.False);
        Assert.That(device.Accesses, Is.Empty);
    }

    [Test]
    public void Overlapping_registrations_are_refused()
    {
        var bus = new IoBus("pio");
        bus.Register(0x3f8, 8, new RecordingIoDevice());
        Assert.That(() => bus.Register(0x3ff, 1, new RecordingIoDevice()), Throws.ArgumentException.With.Message.Contains("overlaps"));
    }

    [Test]
    public void A_wrapping_range_is_refused()
    {
        var bus = new IoBus("mmio");
        Assert.That(() => bus.Register(ulong.MaxValue - 1, 4, new RecordingIoDevice()), Throws.ArgumentException);
    }

    [Test]
    public void Unregister_frees_the_range_for_a_new_device()
    {
        var first = new RecordingIoDevice();
        var bus = new IoBus("mmio");
        bus.Register(0x1000, 0x100, first);
        Assert.That(bus.Unregister(0x1000, first), Is.True);
        Assert.That(bus.TryRead(0x1000, new byte[4]), Is.False);
        bus.Register(0x1080, 0x100, new RecordingIoDevice());
    }

    [Test]
    public void Lookups_find_the_right_device_among_many()
    {
        var bus = new IoBus("pio");
        var devices = Enumerable.Range(0, 50).Select(_ => new RecordingIoDevice()).ToArray();
        for (int i = 0; i < devices.Length; i++)
            bus.Register((ulong)(i * 16), 8, devices[i]);
        Assert.That(bus.TryRead(37 * 16 + 7, new byte[1]), Is.True);
        Assert.That(bus.TryRead(37 * 16 + 8, new byte[1]), Is.False);
        Assert.That(devices[37].Accesses.Single().Offset, Is.EqualTo(7UL));
        Assert.That(devices.Where((_, i) => i != 37).All(d => d.Accesses.Count == 0), Is.True);
    }

    [Test]
    public void TryRegister_refuses_an_overlap_with_a_reason_instead_of_throwing()
    {
        var bus = new IoBus("mmio");
        bus.Register(0x1000, 0x100, new RecordingIoDevice());
        Assert.That(bus.TryRegister(0x10ff, 1, new RecordingIoDevice(), out string? refusal), Is.False);
        Assert.That(refusal, Does.Contain("overlaps"));
    }

    [Test]
    public void TryRegister_refuses_a_range_ending_at_2_to_the_64()
    {
        var bus = new IoBus("mmio");
        Assert.That(bus.TryRegister(0xffff_ffff_ffff_c000, 0x4000, new RecordingIoDevice(), out string? refusal), Is.False);
        Assert.That(refusal, Does.Contain("wraps"));
    }
}
