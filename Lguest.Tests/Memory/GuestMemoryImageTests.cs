using Lguest.Memory;
using Lguest.Snapshot;
using Lguest.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Tests.Memory;

/// <summary>Guest RAM written as a sparse image and mapped back copy-on-write.</summary>
public class GuestMemoryImageTests
{
    private const ulong Page = GuestMemoryLayout.PageSize;

    private TemporaryFolder _folder = null!;

    [SetUp]
    public void SetUp() => _folder = new TemporaryFolder();

    [TearDown]
    public void TearDown() => _folder.Dispose();

    private string PathOf(string name) => Path.Combine(_folder.Path, name);

    // 8 MiB of RAM with a hole at 4 MiB (two regions), as the PC layout has above and below its MMIO hole.
    private static GuestMemoryLayout TwoRegions() => new(
        [new GuestMemoryRegion(GuestAddress.Zero, 4 << 20), new GuestMemoryRegion(new GuestAddress(8 << 20), 4 << 20)],
        new GuestMemoryRegion(new GuestAddress(4 << 20), 4 << 20));

    [Test]
    public void Only_pages_that_are_not_zero_are_written_and_the_rest_of_the_file_is_holes()
    {
        using var memory = GuestMemory.Allocate(TwoRegions());
        memory.Write(new GuestAddress(0x1000), "one"u8);
        memory.Write(new GuestAddress(0x2000), "two"u8);
        memory.Write(new GuestAddress(0x5000), "written then cleared"u8);
        memory.Clear(new GuestAddress(0x5000), Page);
        _ = memory.Read<ulong>(new GuestAddress(0x9000)); // read, so present, and zero
        memory.Write(new GuestAddress((4 << 20) - 8), 0xFFUL);  // the last page of region 0...
        memory.Write(new GuestAddress(8 << 20), 0xEEUL);         // ...and the first of region 1: apart in the image? no, adjacent

        GuestMemoryImage image = memory.WriteImage(PathOf("memory"));

        Assert.That(image.Size, Is.EqualTo(8UL << 20));
        Assert.That(image.Extents, Is.EqualTo(new[]
        {
            new GuestMemoryExtent(0x1000, 2 * Page),
            new GuestMemoryExtent((4 << 20) - Page, Page),
            new GuestMemoryExtent(4 << 20, Page), // region 1 starts right after region 0 in the image, in an extent of its own
        }));
        using SafeFileHandle file = File.OpenHandle(PathOf("memory"));
        Assert.That(RandomAccess.GetLength(file), Is.EqualTo(8L << 20));
        ulong data = GuestMemory.DataRanges(file, image.Size).Aggregate(0UL, (sum, r) => sum + (r.End - r.Start));
        Assert.That(data, Is.LessThanOrEqualTo(64UL * 1024), "the file system keeps the zeros as holes (allowing for its block size)");
    }

    [Test]
    public void A_mapped_image_reads_as_the_memory_did_and_writes_stay_out_of_the_file()
    {
        using var memory = GuestMemory.Allocate(TwoRegions());
        var random = new Random(7);
        byte[] pattern = new byte[3 * Page];
        random.NextBytes(pattern);
        memory.Write(new GuestAddress(0x10000), pattern);
        memory.Write(new GuestAddress(9 << 20), pattern);
        GuestMemoryImage image = memory.WriteImage(PathOf("memory"));
        byte[] fileBefore = File.ReadAllBytes(PathOf("memory"));

        using GuestMemory restored = GuestMemory.MapImage(TwoRegions(), PathOf("memory"), image);
        Assert.That(restored.GetSpan(new GuestAddress(0x10000), pattern.Length).ToArray(), Is.EqualTo(pattern));
        Assert.That(restored.GetSpan(new GuestAddress(9 << 20), pattern.Length).ToArray(), Is.EqualTo(pattern));
        Assert.That(restored.Read<ulong>(new GuestAddress(0x3000)), Is.Zero);

        restored.Write(new GuestAddress(0x10000), 0x1122334455667788UL);
        restored.Write(new GuestAddress(0x20000), 0x99UL);
        Assert.That(restored.Read<ulong>(new GuestAddress(0x10000)), Is.EqualTo(0x1122334455667788UL));
        Assert.That(File.ReadAllBytes(PathOf("memory")), Is.EqualTo(fileBefore), "copy-on-write: the image is never written");
    }

    [Test]
    public void An_image_of_restored_memory_keeps_the_pages_the_guest_never_touched_since()
    {
        using var memory = GuestMemory.Allocate(TwoRegions());
        memory.Write(new GuestAddress(0x4000), "from the first run"u8);
        memory.Write(new GuestAddress(10 << 20), "above the hole"u8);
        GuestMemoryImage first = memory.WriteImage(PathOf("first"));

        using GuestMemory restored = GuestMemory.MapImage(TwoRegions(), PathOf("first"), first);
        restored.Write(new GuestAddress(0x7000), "from the second"u8); // 0x4000 and region 1 are never touched here
        GuestMemoryImage second = restored.WriteImage(PathOf("second"));

        using GuestMemory again = GuestMemory.MapImage(TwoRegions(), PathOf("second"), second);
        Assert.That(again.GetSpan(new GuestAddress(0x4000), 18).ToArray(), Is.EqualTo("from the first run"u8.ToArray()));
        Assert.That(again.GetSpan(new GuestAddress(10 << 20), 14).ToArray(), Is.EqualTo("above the hole"u8.ToArray()));
        Assert.That(again.GetSpan(new GuestAddress(0x7000), 15).ToArray(), Is.EqualTo("from the second"u8.ToArray()));
    }

    [Test]
    public void Writing_an_image_over_the_file_the_memory_is_mapped_from_is_refused()
    {
        using var memory = GuestMemory.Allocate(TwoRegions());
        memory.Write(new GuestAddress(0x4000), 1UL);
        GuestMemoryImage image = memory.WriteImage(PathOf("memory"));
        using GuestMemory restored = GuestMemory.MapImage(TwoRegions(), PathOf("memory"), image);
        var error = Assert.Throws<SnapshotException>(() => restored.WriteImage(PathOf("memory")))!;
        Assert.That(error.Message, Does.Contain("mapped from it"));
        Assert.That(restored.Read<ulong>(new GuestAddress(0x4000)), Is.EqualTo(1UL), "the image is intact");
    }

    [Test]
    public void A_truncated_image_is_refused_before_anything_is_mapped()
    {
        GuestMemoryImage image = WriteSample();
        using (SafeFileHandle file = File.OpenHandle(PathOf("memory"), FileMode.Open, FileAccess.Write))
            RandomAccess.SetLength(file, (long)image.Size - (long)Page);
        var error = Assert.Throws<SnapshotException>(() => GuestMemory.MapImage(TwoRegions(), PathOf("memory"), image))!;
        Assert.That((error.Reason, error.Message), Is.EqualTo((SnapshotRefusal.Truncated,
            $"{PathOf("memory")} is {image.Size - Page} bytes; the snapshot's guest has {image.Size} bytes of RAM")));
    }

    [Test]
    public void A_flipped_bit_in_the_data_is_refused()
    {
        GuestMemoryImage image = WriteSample();
        FlipBit(PathOf("memory"), (long)image.Extents[0].Offset + 100);
        // Two pages of data: the sample is all of them.
        var error = Assert.Throws<SnapshotException>(() => GuestMemory.MapImage(TwoRegions(), PathOf("memory"), image))!;
        Assert.That((error.Reason, error.Message), Is.EqualTo((SnapshotRefusal.Corrupt, $"{PathOf("memory")}: the guest memory does not match its checksum (on the 2 pages sampled)")));
        error = Assert.Throws<SnapshotException>(() => GuestMemory.MapImage(TwoRegions(), PathOf("memory"), image, ImageVerification.Full))!;
        Assert.That((error.Reason, error.Message), Is.EqualTo((SnapshotRefusal.Corrupt, $"{PathOf("memory")}: the guest memory does not match its checksum (on the 2 pages sampled)")));
    }

    [Test]
    public void The_sample_is_256_pages_spread_over_the_data_and_a_flip_outside_it_is_caught_only_by_a_full_check()
    {
        using var memory = GuestMemory.Allocate(TwoRegions());
        byte[] data = new byte[1000 * Page];
        new Random(3).NextBytes(data);
        memory.Write(new GuestAddress(0x100000), data.AsSpan(0, 600 * (int)Page));          // region 0
        memory.Write(new GuestAddress(9 << 20), data.AsSpan(600 * (int)Page, 400 * (int)Page)); // region 1
        GuestMemoryImage image = memory.WriteImage(PathOf("memory"));
        ulong[] sampled = [.. image.SampleOffsets()];
        Assert.That(sampled, Has.Length.EqualTo(GuestMemoryImage.SamplePages));
        Assert.That(sampled, Is.Ordered.And.Unique);
        Assert.That(sampled[0], Is.EqualTo(0x100000UL), "the first page of the data");
        Assert.That(sampled.Count(o => o >= 4 << 20), Is.InRange(100, 104), "spread over both regions by their data (400 of 1000 pages)");
        Assert.That(sampled.All(o => image.Extents.Any(e => o >= e.Offset && o < e.End)), Is.True);

        ulong unsampled = Enumerable.Range(0, 600).Select(i => 0x100000UL + (ulong)i * Page).First(o => !sampled.Contains(o));
        FlipBit(PathOf("memory"), (long)unsampled + 5);
        using (GuestMemory mapped = GuestMemory.MapImage(TwoRegions(), PathOf("memory"), image))
            Assert.That(mapped.GetSpan(new GuestAddress(unsampled + 5), 1)[0], Is.Not.EqualTo(data[(int)(unsampled - 0x100000 + 5)]), "mapped: the sample does not cover it");
        var error = Assert.Throws<SnapshotException>(() => GuestMemory.MapImage(TwoRegions(), PathOf("memory"), image, ImageVerification.Full))!;
        Assert.That((error.Reason, error.Message), Is.EqualTo((SnapshotRefusal.Corrupt, $"{PathOf("memory")}: the guest memory does not match its checksum")));

        FlipBit(PathOf("memory"), (long)unsampled + 5);
        FlipBit(PathOf("memory"), (long)sampled[77] + 4095);
        error = Assert.Throws<SnapshotException>(() => GuestMemory.MapImage(TwoRegions(), PathOf("memory"), image))!;
        Assert.That(error.Message, Is.EqualTo($"{PathOf("memory")}: the guest memory does not match its checksum (on the 256 pages sampled)"));
    }

    [Test]
    public void The_sample_of_extents_that_are_not_whole_pages_stays_within_them()
    {
        // A manifest's extents are checked to be whole pages; one made by hand is not, and the walk must not run off.
        var image = new GuestMemoryImage(1 << 20, [new GuestMemoryExtent(0, 0x1800), new GuestMemoryExtent(0x4000, 0x1800)], 0, 0);
        Assert.That(image.SampleOffsets(), Is.EqualTo(new ulong[] { 0, 0x4000 }));
    }

    [Test]
    public void Another_snapshots_memory_file_of_the_same_size_is_refused_by_the_sample()
    {
        GuestMemoryImage image = WriteSample();
        using (var other = GuestMemory.Allocate(TwoRegions()))
        {
            other.Write(new GuestAddress(0x2000), 0xABCEUL);
            other.Write(new GuestAddress(9 << 20), 0x1234UL);
            _ = other.WriteImage(PathOf("memory"));
        }
        Assert.That(() => GuestMemory.MapImage(TwoRegions(), PathOf("memory"), image),
            Throws.TypeOf<SnapshotException>().With.Message.Contains("does not match its checksum"));
    }

    [Test]
    public void A_flipped_bit_in_a_hole_is_refused_by_a_full_check()
    {
        GuestMemoryImage image = WriteSample();
        FlipBit(PathOf("memory"), 0x300000);
        var error = Assert.Throws<SnapshotException>(() => GuestMemory.MapImage(TwoRegions(), PathOf("memory"), image, ImageVerification.Full))!;
        Assert.That((error.Reason, error.Message), Is.EqualTo((SnapshotRefusal.Corrupt, $"{PathOf("memory")}: data at offset 0x300000 where the snapshot holds only zeros")));
    }

    [Test]
    public void An_image_copied_without_its_holes_still_maps()
    {
        GuestMemoryImage image = WriteSample();
        File.WriteAllBytes(PathOf("dense"), File.ReadAllBytes(PathOf("memory"))); // every zero written out
        using GuestMemory restored = GuestMemory.MapImage(TwoRegions(), PathOf("dense"), image);
        Assert.That(restored.Read<ulong>(new GuestAddress(0x2000)), Is.EqualTo(0xABCDUL));
    }

    [TestCase(0x1000UL, 0UL, TestName = "An extent of no pages is refused")]
    [TestCase(0x1001UL, 0x1000UL, TestName = "An extent not on a page boundary is refused")]
    [TestCase(0x7FF000UL, 0x2000UL, TestName = "An extent past the end of RAM is refused")]
    public void A_misplaced_extent_is_refused(ulong offset, ulong length)
    {
        GuestMemoryImage image = WriteSample();
        var forged = image with { Extents = [new GuestMemoryExtent(offset, length)] };
        var error = Assert.Throws<SnapshotException>(() => GuestMemory.MapImage(TwoRegions(), PathOf("memory"), forged))!;
        Assert.That((error.Reason, error.Message), Is.EqualTo((SnapshotRefusal.Corrupt, $"memory extent 0 [0x{offset:x}, +0x{length:x}) is misplaced")));
    }

    [Test]
    public void Overlapping_extents_are_refused()
    {
        GuestMemoryImage image = WriteSample();
        var forged = image with { Extents = [new GuestMemoryExtent(0x2000, 0x2000), new GuestMemoryExtent(0x3000, 0x1000)] };
        Assert.That(() => GuestMemory.MapImage(TwoRegions(), PathOf("memory"), forged),
            Throws.TypeOf<SnapshotException>().With.Message.EqualTo("memory extent 1 [0x3000, +0x1000) is misplaced"));
    }

    [Test]
    public void An_image_of_another_size_of_ram_is_refused()
    {
        GuestMemoryImage image = WriteSample();
        Assert.That(() => GuestMemory.MapImage(GuestMemoryLayout.Flat(4 << 20), PathOf("memory"), image),
            Throws.TypeOf<SnapshotException>().With.Message.EqualTo($"the memory image holds {8 << 20} bytes of RAM; the machine has {4 << 20}"));
    }

    private GuestMemoryImage WriteSample()
    {
        using var memory = GuestMemory.Allocate(TwoRegions());
        memory.Write(new GuestAddress(0x2000), 0xABCDUL);
        memory.Write(new GuestAddress(9 << 20), 0x1234UL);
        return memory.WriteImage(PathOf("memory"));
    }

    private static void FlipBit(string path, long offset)
    {
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        byte[] one = new byte[1];
        RandomAccess.Read(file, one, offset);
        one[0] ^= 0x10;
        RandomAccess.Write(file, one, offset);
    }
}
