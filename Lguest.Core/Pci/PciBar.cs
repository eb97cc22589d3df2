using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Pci;

/// <summary>
/// One memory base address register of a <see cref="PciDevice"/>: the region it decodes, its size (a power
/// of two the guest discovers by writing all ones), and where it decodes now.
/// </summary>
public sealed class PciBar
{
    /// <summary>The smallest BAR size handed out: a page, so each BAR maps on its own pages (Linux prefers that).</summary>
    public const ulong MinimumSize = 4096;

    internal PciBar(int index, ulong size, PciBarKind kind, bool prefetchable, IIoDevice region)
    {
        Index = index;
        Size = size;
        Kind = kind;
        Prefetchable = prefetchable;
        Region = region;
    }

    /// <summary>The BAR's number, 0-5 (a 64-bit BAR also takes the next register).</summary>
    public int Index { get; }

    /// <summary>The region's size in bytes, a power of two.</summary>
    public ulong Size { get; }

    /// <summary>32- or 64-bit.</summary>
    public PciBarKind Kind { get; }

    /// <summary>Whether the BAR says it is prefetchable (reads have no side effects).</summary>
    public bool Prefetchable { get; }

    /// <summary>What guest accesses to the region reach, with the offset inside the BAR.</summary>
    public IIoDevice Region { get; }

    /// <summary>
    /// Where the BAR decodes now: its programmed address while memory space is enabled and the range is
    /// usable, else null. Changes when the guest moves the BAR or toggles memory decoding.
    /// </summary>
    public GuestAddress? MappedAddress { get; internal set; }

    /// <summary>The configuration-space offset of the BAR's (low) register.</summary>
    public int RegisterOffset => PciHeader.BaseAddress0 + 4 * Index;

    /// <inheritdoc />
    public override string ToString() => $"BAR{Index} {Kind} 0x{Size:x} bytes at {(MappedAddress is { } a ? a.ToString() : "(not decoded)")}";
}
