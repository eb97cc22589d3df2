namespace Lguest.Memory;

/// <summary>One run of pages a guest memory image holds: bytes [<see cref="Offset"/>, +<see cref="Length"/>) of the image file.</summary>
/// <param name="Offset">Where the run starts in the image (RAM regions one after another), a multiple of the page size.</param>
/// <param name="Length">The run's length, a non-zero multiple of the page size.</param>
public readonly record struct GuestMemoryExtent(ulong Offset, ulong Length)
{
    /// <summary>The first offset past the run.</summary>
    public ulong End => Offset + Length;
}
