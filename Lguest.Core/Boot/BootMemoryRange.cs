using Lguest.Memory;

namespace Lguest.Boot;

/// <summary>A range of guest memory the loader wrote or reserved for the kernel (its image, its initialization area, the initrd, the boot structures).</summary>
/// <param name="Name">What lives there ("kernel", "initrd", "zero page"...).</param>
/// <param name="Start">The first guest-physical address.</param>
/// <param name="Length">The length in bytes.</param>
public readonly record struct BootMemoryRange(string Name, GuestAddress Start, ulong Length)
{
    /// <summary>The first address past the range.</summary>
    public GuestAddress End => new(Start.Value + Length);

    /// <summary>Whether <paramref name="address"/> lies inside the range.</summary>
    public bool Contains(GuestAddress address) => address.Value >= Start.Value && address.Value - Start.Value < Length;

    /// <summary>Whether the two ranges share a byte.</summary>
    public bool Overlaps(BootMemoryRange other) =>
        Length != 0 && other.Length != 0 && Start.Value < other.End.Value && other.Start.Value < End.Value;

    /// <inheritdoc />
    public override string ToString() => $"{Name} [{Start}, {End})";
}
