namespace Lguest.Memory;

/// <summary>
/// What <see cref="GuestMemory.WriteImage"/> wrote: a sparse file as long as guest RAM (its regions one after
/// another) holding only the pages that are not zero, in <see cref="Extents"/>, with their checksum and the checksum of
/// a sample of their pages. The rest of the file is holes, which read as zeros and take no disk space.
/// </summary>
/// <param name="Size">The file's length: the guest's RAM in bytes.</param>
/// <param name="Extents">The runs of pages written, in increasing order, neither overlapping nor touching.</param>
/// <param name="Checksum">XxHash128 over each extent's offset and length (8 bytes each, little-endian) and its bytes, in order.</param>
/// <param name="SampleChecksum">
/// XxHash128 over the <see cref="SamplePages"/> pages <see cref="SampleOffsets"/> picks, each as its offset (8 bytes,
/// little-endian) and its bytes: what a restore checks by default, at a cost that does not grow with RAM.
/// </param>
public sealed record GuestMemoryImage(ulong Size, IReadOnlyList<GuestMemoryExtent> Extents, UInt128 Checksum, UInt128 SampleChecksum)
{
    /// <summary>
    /// The most extents an image lists (16 MiB of manifest): a guest whose pages alternate more finely than that has
    /// the zero pages between some runs written too (<see cref="GuestMemory.WriteImage"/>), which costs only disk space.
    /// </summary>
    public const int MaxExtents = 1 << 20;

    /// <summary>
    /// The most pages the sample checksum covers: 1 MiB read at a restore, milliseconds however much RAM the guest
    /// has, and enough that a memory file of another snapshot, or one damaged over more than a few pages, fails it.
    /// </summary>
    public const int SamplePages = 256;

    /// <summary>The bytes the extents hold.</summary>
    public ulong DataBytes => Extents.Aggregate(0UL, (sum, e) => sum + e.Length);

    /// <summary>
    /// The image offsets of the pages the sample checksum covers, in increasing order: <see cref="SamplePages"/> (or
    /// every page, when the extents hold fewer) spread evenly over the data, the first page of the data always among
    /// them. Depends on the extents alone, so the writer and a restore pick the same pages.
    /// </summary>
    public IEnumerable<ulong> SampleOffsets()
    {
        const ulong page = GuestMemoryLayout.PageSize;
        // Whole pages only: an extent that is not (a manifest's is checked to be) cannot send the walk past the last.
        ulong pages = Extents.Aggregate(0UL, (sum, e) => sum + e.Length / page);
        ulong count = Math.Min(pages, SamplePages);
        int extent = 0;
        ulong pagesBefore = 0; // data pages in the extents before `extent`
        for (ulong k = 0; k < count; k++)
        {
            ulong index = k * pages / count; // k < 256 and pages < 2^52: no overflow
            while (index >= pagesBefore + Extents[extent].Length / page)
            {
                pagesBefore += Extents[extent].Length / page;
                extent++;
            }
            yield return Extents[extent].Offset + (index - pagesBefore) * page;
        }
    }
}
