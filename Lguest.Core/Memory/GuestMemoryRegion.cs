namespace Lguest.Memory;

/// <summary>
/// A run of guest RAM: <see cref="Size"/> bytes starting at guest-physical <see cref="Start"/>.
/// Regions are backed by consecutive parts of one host mapping, in address order.
/// </summary>
/// <param name="Start">The first guest-physical address of the region.</param>
/// <param name="Size">The region's length in bytes, a multiple of the page size.</param>
public sealed record GuestMemoryRegion(GuestAddress Start, ulong Size)
{
    /// <summary>The first address past the region.</summary>
    public GuestAddress End => new(Start.Value + Size);

    /// <summary>Whether [<paramref name="address"/>, +<paramref name="length"/>) lies wholly inside the region.</summary>
    public bool Contains(GuestAddress address, ulong length) =>
        // Compare without computing address + length: the sum can wrap past 2^64.
        address.Value >= Start.Value && address.Value - Start.Value <= Size && length <= Size - (address.Value - Start.Value);

    /// <inheritdoc />
    public override string ToString() => $"[{Start}, {End})";
}
