namespace Lguest.Memory;

/// <summary>
/// A guest-physical address. A distinct type so a guest address is never mistaken for a host
/// pointer, an offset into a file or a length.
/// </summary>
/// <param name="Value">The address as the guest sees it.</param>
public readonly record struct GuestAddress(ulong Value) : IComparable<GuestAddress>
{
    /// <summary>Address zero.</summary>
    public static GuestAddress Zero => default;

    /// <summary>
    /// The address <paramref name="offset"/> bytes further on, or an error when the sum wraps past
    /// 2^64: a guest that supplies a base near the top of the address space must not wrap to low memory.
    /// </summary>
    public GuestAddress Offset(ulong offset)
    {
        ulong sum = Value + offset;
        if (sum < Value)
            throw new GuestMemoryException(this, offset, "the address wraps past 2^64");
        return new GuestAddress(sum);
    }

    /// <summary>Whether the address is a multiple of <paramref name="alignment"/>, a power of two.</summary>
    public bool IsAligned(ulong alignment) => (Value & (alignment - 1)) == 0;

    /// <summary>The address rounded down to a multiple of <paramref name="alignment"/>, a power of two.</summary>
    public GuestAddress AlignDown(ulong alignment) => new(Value & ~(alignment - 1));

    /// <inheritdoc />
    public int CompareTo(GuestAddress other) => Value.CompareTo(other.Value);

    /// <summary>Orders addresses.</summary>
    public static bool operator <(GuestAddress left, GuestAddress right) => left.Value < right.Value;

    /// <summary>Orders addresses.</summary>
    public static bool operator >(GuestAddress left, GuestAddress right) => left.Value > right.Value;

    /// <summary>Orders addresses.</summary>
    public static bool operator <=(GuestAddress left, GuestAddress right) => left.Value <= right.Value;

    /// <summary>Orders addresses.</summary>
    public static bool operator >=(GuestAddress left, GuestAddress right) => left.Value >= right.Value;

    /// <inheritdoc />
    public override string ToString() => $"0x{Value:x}";
}
