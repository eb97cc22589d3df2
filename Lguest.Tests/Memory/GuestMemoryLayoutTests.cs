using Lguest.Memory;

namespace Lguest.Tests.Memory;

public class GuestMemoryLayoutTests
{
    private const ulong MiB = 1 << 20;

    [Test]
    public void Flat_rounds_up_to_a_page_and_puts_the_device_window_above_ram()
    {
        var layout = GuestMemoryLayout.Flat(MiB + 1);
        Assert.That(layout.TotalSize, Is.EqualTo(MiB + 4096));
        Assert.That(layout.MmioWindow.Start, Is.EqualTo(new GuestAddress(MiB + 4096)));
    }

    [Test]
    public void WithMmioHole_keeps_small_guests_in_one_region()
    {
        var layout = GuestMemoryLayout.WithMmioHole(512 * MiB);
        Assert.That(layout.Regions, Has.Count.EqualTo(1));
        Assert.That(layout.MmioWindow.Start, Is.EqualTo(new GuestAddress(GuestMemoryLayout.DefaultMmioHoleStart)));
    }

    [Test]
    public void WithMmioHole_splits_large_guests_around_the_hole()
    {
        var layout = GuestMemoryLayout.WithMmioHole(4096 * MiB);
        Assert.That(layout.Regions.Select(r => (r.Start.Value, r.Size)), Is.EqualTo(new[]
        {
            (0UL, GuestMemoryLayout.DefaultMmioHoleStart),
            (GuestMemoryLayout.FourGiB, 4096 * MiB - GuestMemoryLayout.DefaultMmioHoleStart),
        }));
        Assert.That(layout.TotalSize, Is.EqualTo(4096 * MiB));
    }

    [Test]
    public void Empty_ram_is_refused()
    {
        Assert.That(() => GuestMemoryLayout.Flat(0), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void Overlapping_regions_are_refused()
    {
        Assert.That(() => new GuestMemoryLayout(
            [new GuestMemoryRegion(new GuestAddress(0), 2 * MiB), new GuestMemoryRegion(new GuestAddress(MiB), MiB)],
            new GuestMemoryRegion(new GuestAddress(16 * MiB), MiB)), Throws.ArgumentException.With.Message.Contains("overlap"));
    }

    [Test]
    public void Touching_regions_are_refused()
    {
        Assert.That(() => new GuestMemoryLayout(
            [new GuestMemoryRegion(new GuestAddress(0), MiB), new GuestMemoryRegion(new GuestAddress(MiB), MiB)],
            new GuestMemoryRegion(new GuestAddress(16 * MiB), MiB)), Throws.ArgumentException);
    }

    [Test]
    public void A_device_window_inside_ram_is_refused()
    {
        Assert.That(() => new GuestMemoryLayout(
            [new GuestMemoryRegion(new GuestAddress(0), 4 * MiB)],
            new GuestMemoryRegion(new GuestAddress(MiB), MiB)), Throws.ArgumentException.With.Message.Contains("MMIO window"));
    }

    [Test]
    public void An_unaligned_region_is_refused()
    {
        Assert.That(() => new GuestMemoryLayout(
            [new GuestMemoryRegion(new GuestAddress(1), MiB)],
            new GuestMemoryRegion(new GuestAddress(16 * MiB), MiB)), Throws.ArgumentException.With.Message.Contains("page-aligned"));
    }
}
