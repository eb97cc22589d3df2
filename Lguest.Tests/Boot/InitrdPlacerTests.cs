using Lguest.Boot;
using Lguest.Memory;

namespace Lguest.Tests.Boot;

public class InitrdPlacerTests
{
    private const ulong MiB = 1 << 20;
    private static readonly GuestMemoryLayout s_ram = GuestMemoryLayout.Flat(64 * MiB);

    private static BootMemoryRange Used(ulong start, ulong length) => new("used", new GuestAddress(start), length);

    [Test]
    public void TryPlace_picks_the_highest_page_below_the_limit()
    {
        Assert.That(InitrdPlacer.TryPlace(s_ram, 5000, MiB, 32 * MiB, [], out GuestAddress at, out _), Is.True);
        Assert.That(at, Is.EqualTo(new GuestAddress(32 * MiB - 8192)));
    }

    [Test]
    public void TryPlace_skips_below_a_used_range_at_the_top()
    {
        Assert.That(InitrdPlacer.TryPlace(s_ram, MiB, MiB, 64 * MiB, [Used(60 * MiB, 4 * MiB)], out GuestAddress at, out _), Is.True);
        Assert.That(at, Is.EqualTo(new GuestAddress(59 * MiB)));
    }

    [Test]
    public void TryPlace_treats_overlapping_used_ranges_as_one()
    {
        // [40, 60) and [45, 50) MiB: the gap below must start under 40 MiB, not under 45.
        BootMemoryRange[] used = [Used(40 * MiB, 20 * MiB), Used(45 * MiB, 5 * MiB), Used(60 * MiB, 4 * MiB)];
        Assert.That(InitrdPlacer.TryPlace(s_ram, 2 * MiB, MiB, 64 * MiB, used, out GuestAddress at, out _), Is.True);
        Assert.That(at, Is.EqualTo(new GuestAddress(38 * MiB)));
    }

    [Test]
    public void TryPlace_keeps_clear_of_a_partly_used_page()
    {
        Assert.That(InitrdPlacer.TryPlace(s_ram, 4096, MiB, 64 * MiB, [Used(64 * MiB - 10, 10)], out GuestAddress at, out _), Is.True);
        Assert.That(at, Is.EqualTo(new GuestAddress(64 * MiB - 8192)));
    }

    [Test]
    public void TryPlace_fails_and_reports_the_largest_room_when_nothing_fits()
    {
        BootMemoryRange[] used = [Used(16 * MiB, 40 * MiB)];
        Assert.That(InitrdPlacer.TryPlace(s_ram, 16 * MiB, MiB, 64 * MiB, used, out _, out ulong room), Is.False);
        Assert.That(room, Is.EqualTo(15 * MiB));
    }

    [Test]
    public void TryPlace_never_goes_below_the_lowest_address()
    {
        Assert.That(InitrdPlacer.TryPlace(s_ram, 2 * MiB, 63 * MiB, 64 * MiB, [], out _, out ulong room), Is.False);
        Assert.That(room, Is.EqualTo(MiB));
    }

    [Test]
    public void TryPlace_uses_a_lower_region_when_the_higher_one_is_above_the_limit()
    {
        var layout = GuestMemoryLayout.WithMmioHole(4UL << 30);
        Assert.That(InitrdPlacer.TryPlace(layout, MiB, MiB, 1UL << 32, [], out GuestAddress at, out _), Is.True);
        Assert.That(at, Is.EqualTo(new GuestAddress(0xC0000000 - MiB)));
    }
}
