using Lguest.Memory;

namespace Lguest.Tests.Memory;

public class GuestMemoryTests
{
    private const ulong MiB = 1 << 20;

    [Test]
    public void Allocate_gives_zeroed_ram()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        Assert.That(memory.GetSpan(new GuestAddress(0), 4096).ToArray(), Is.All.Zero);
    }

    [Test]
    public void Write_then_read_round_trips_a_struct_at_an_unaligned_address()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        memory.Write(new GuestAddress(0x1001), 0x1122334455667788UL);
        Assert.That(memory.Read<ulong>(new GuestAddress(0x1001)), Is.EqualTo(0x1122334455667788UL));
        Assert.That(memory.Read<byte>(new GuestAddress(0x1001)), Is.EqualTo(0x88), "little-endian as the guest sees it");
    }

    [Test]
    public void GetSpan_accepts_a_range_ending_exactly_at_the_end_of_ram()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        Assert.That(memory.GetSpan(new GuestAddress(MiB - 16), 16).Length, Is.EqualTo(16));
    }

    [Test]
    public void GetSpan_accepts_zero_length_at_the_end_of_ram()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        Assert.That(memory.GetSpan(new GuestAddress(MiB), 0).Length, Is.Zero);
    }

    [Test]
    public void GetSpan_refuses_zero_length_past_the_end_of_ram()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        Assert.That(() => memory.GetSpan(new GuestAddress(MiB + 1), 0), Throws.TypeOf<GuestMemoryException>());
    }

    [Test]
    public void GetSpan_refuses_a_range_crossing_the_end_of_ram()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        Assert.That(() => memory.GetSpan(new GuestAddress(MiB - 15), 16), Throws.TypeOf<GuestMemoryException>());
    }

    [Test]
    public void GetSpan_refuses_an_address_whose_sum_with_the_length_wraps()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        Assert.That(() => memory.GetSpan(new GuestAddress(ulong.MaxValue - 3), 16), Throws.TypeOf<GuestMemoryException>());
    }

    [Test]
    public void GetSpan_refuses_a_negative_length()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        Assert.That(() => memory.GetSpan(new GuestAddress(0), -1), Throws.TypeOf<GuestMemoryException>());
    }

    [Test]
    public void Read_refuses_an_address_in_the_mmio_hole()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(64 * MiB, mmioHoleStart: 32 * MiB));
        Assert.That(() => memory.Read<uint>(new GuestAddress(40 * MiB)), Throws.TypeOf<GuestMemoryException>()
            .With.Property(nameof(GuestMemoryException.Address)).EqualTo(new GuestAddress(40 * MiB)));
    }

    [Test]
    public void Ram_displaced_by_the_hole_continues_at_4GiB()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(64 * MiB, mmioHoleStart: 32 * MiB));
        var high = new GuestAddress(GuestMemoryLayout.FourGiB + 32 * MiB - 4);
        memory.Write(high, 0xdeadbeefu);
        Assert.That(memory.Read<uint>(high), Is.EqualTo(0xdeadbeefu));
        Assert.That(() => memory.Read<uint>(new GuestAddress(GuestMemoryLayout.FourGiB + 32 * MiB)), Throws.TypeOf<GuestMemoryException>());
    }

    [Test]
    public void Regions_are_distinct_host_memory()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(64 * MiB, mmioHoleStart: 32 * MiB));
        memory.Write(new GuestAddress(0), 1u);
        memory.Write(new GuestAddress(GuestMemoryLayout.FourGiB), 2u);
        Assert.That(memory.Read<uint>(new GuestAddress(0)), Is.EqualTo(1u));
    }

    [Test]
    public void A_range_spanning_the_hole_is_refused_even_though_both_ends_are_ram()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(64 * MiB, mmioHoleStart: 32 * MiB));
        Assert.That(memory.IsValidRange(new GuestAddress(32 * MiB - 8), GuestMemoryLayout.FourGiB), Is.False);
    }

    [Test]
    public void Acquire_read_refuses_a_misaligned_index()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        Assert.That(() => memory.ReadUInt16Acquire(new GuestAddress(3)), Throws.TypeOf<GuestMemoryException>().With.Message.Contains("aligned"));
    }

    [Test]
    public void Release_write_is_seen_by_an_acquire_read()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        memory.WriteUInt16Release(new GuestAddress(2), 0xabcd);
        Assert.That(memory.ReadUInt16Acquire(new GuestAddress(2)), Is.EqualTo(0xabcd));
    }

    [Test]
    public void Clear_zeroes_only_the_given_range()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        memory.GetSpan(new GuestAddress(0), 3 * 4096).Fill(0xff);
        memory.Clear(new GuestAddress(4096), 4096);
        Assert.That(memory.Read<byte>(new GuestAddress(4095)), Is.EqualTo(0xff));
        Assert.That(memory.GetSpan(new GuestAddress(4096), 4096).ToArray(), Is.All.Zero);
        Assert.That(memory.Read<byte>(new GuestAddress(8192)), Is.EqualTo(0xff));
    }

    [Test]
    public void Access_after_dispose_is_refused()
    {
        var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        memory.Dispose();
        Assert.That(() => memory.Read<uint>(new GuestAddress(0)), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void A_large_guest_reserves_no_host_memory_until_touched()
    {
        // 16 GiB: only MAP_NORESERVE and lazy allocation make this cheap.
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(16UL << 30));
        memory.Write(new GuestAddress((16UL << 30) + GuestMemoryLayout.FourGiB - GuestMemoryLayout.DefaultMmioHoleStart - 8), 7UL);
        Assert.That(memory.Layout.TotalSize, Is.EqualTo(16UL << 30));
    }

    [Test]
    public void Offset_refuses_to_wrap()
    {
        Assert.That(() => new GuestAddress(ulong.MaxValue).Offset(1), Throws.TypeOf<GuestMemoryException>());
    }

    [Test]
    public void Every_region_starts_on_a_2_MiB_boundary_in_the_host_so_huge_pages_can_back_it()
    {
        // RAM displaced above 4 GiB too: KVM maps a 2 MiB guest page whole only where host and guest agree on it.
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(GuestMemoryLayout.FourGiB));
        foreach (GuestMemoryRegion region in memory.Layout.Regions)
            Assert.That((ulong)memory.HostAddressOf(region) % (2UL << 20), Is.EqualTo(region.Start.Value % (2UL << 20)), region.ToString());
    }

    [Test]
    public void Ram_below_2_GiB_is_also_on_a_2_MiB_boundary()
    {
        using GuestMemory memory = GuestMemory.AllocateBelow2GiB(GuestMemoryLayout.Flat(3 * MiB));
        nint host = memory.HostAddressOf(memory.Layout.Regions[0]);
        Assert.That(((ulong)host % (2UL << 20), (ulong)host < (2UL << 30)), Is.EqualTo((0UL, true)));
    }
}
