namespace Lguest.Memory;

/// <summary>
/// What <see cref="GuestMemory.WriteImage"/> wrote: a sparse file as long as guest RAM (its regions one after
/// another) holding only the pages that are not zero, in <see cref="Extents"/>, with their checksum. The rest of
/// the file is holes, which read as zeros and take no disk space.
/// </summary>
/// <param name="Size">The file's length: the guest's RAM in bytes.</param>
/// <param name="Extents">The runs of pages written, in increasing order, neither overlapping nor touching.</param>
/// <param name="Checksum">XxHash128 over each extent's offset and length (8 bytes each, little-endian) and its bytes, in order.</param>
public sealed record GuestMemoryImage(ulong Size, IReadOnlyList<GuestMemoryExtent> Extents, UInt128 Checksum)
{
    /// <summary>
    /// The most extents an image lists (16 MiB of manifest): a guest whose pages alternate more finely than that has
    /// the zero pages between some runs written too (<see cref="GuestMemory.WriteImage"/>), which costs only disk space.
    /// </summary>
    public const int MaxExtents = 1 << 20;

    /// <summary>The bytes the extents hold.</summary>
    public ulong DataBytes => Extents.Aggregate(0UL, (sum, e) => sum + e.Length);
}
