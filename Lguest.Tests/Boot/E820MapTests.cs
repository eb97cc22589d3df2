using Lguest.Boot;
using Lguest.Memory;

namespace Lguest.Tests.Boot;

public class E820MapTests
{
    private const ulong MiB = 1 << 20;

    [Test]
    public void Build_for_kvm_splits_low_memory_at_the_ebda_and_reserves_the_legacy_area()
    {
        IReadOnlyList<E820Entry> map = E820Map.Build(GuestMemoryLayout.WithMmioHole(512 * MiB), BootPlatform.Pc);
        Assert.That(map, Is.EqualTo(new[]
        {
            new E820Entry(0, 0x9fc00, E820Type.Ram),
            new E820Entry(0x9fc00, 0x60400, E820Type.Reserved),
            new E820Entry(0x100000, 511 * MiB, E820Type.Ram),
        }));
    }

    [Test]
    public void Build_for_kvm_leaves_out_the_mmio_hole_and_maps_ram_above_4_GiB()
    {
        IReadOnlyList<E820Entry> map = E820Map.Build(GuestMemoryLayout.WithMmioHole(4UL << 30), BootPlatform.Pc);
        Assert.That(map, Is.EqualTo(new[]
        {
            new E820Entry(0, 0x9fc00, E820Type.Ram),
            new E820Entry(0x9fc00, 0x60400, E820Type.Reserved),
            new E820Entry(0x100000, 0xC0000000 - 0x100000, E820Type.Ram),
            new E820Entry(0x1_0000_0000, 0x4000_0000, E820Type.Ram),
        }));
    }

    [Test]
    public void Build_for_lguest_reports_all_of_RAM_as_one_entry()
    {
        Assert.That(E820Map.Build(GuestMemoryLayout.Flat(256 * MiB), BootPlatform.Lguest),
            Is.EqualTo(new[] { new E820Entry(0, 256 * MiB, E820Type.Ram) }));
    }

    [Test]
    public void Build_refuses_a_layout_with_more_regions_than_the_zero_page_holds()
    {
        var regions = Enumerable.Range(0, 130).Select(i => new GuestMemoryRegion(new GuestAddress((ulong)i * 2 * MiB), MiB));
        var layout = new GuestMemoryLayout(regions, new GuestMemoryRegion(new GuestAddress(1UL << 32), MiB));
        Assert.That(() => E820Map.Build(layout, BootPlatform.Lguest), Throws.ArgumentException.With.Message.Contains("130 memory map entries"));
    }
}
