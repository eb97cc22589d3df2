namespace Lguest.Fuzz;

/// <summary>
/// Reads little-endian fields off the front of a fuzz input; past the end every read is zero, so every
/// input, however short, means something.
/// </summary>
internal ref struct FuzzInput(ReadOnlySpan<byte> bytes)
{
    private ReadOnlySpan<byte> _rest = bytes;

    public readonly bool IsEmpty => _rest.IsEmpty;

    public readonly ReadOnlySpan<byte> Rest => _rest;

    public byte Byte()
    {
        if (_rest.IsEmpty)
            return 0;
        byte b = _rest[0];
        _rest = _rest[1..];
        return b;
    }

    public ushort UInt16() => (ushort)(Byte() | Byte() << 8);

    public uint UInt32() => UInt16() | (uint)UInt16() << 16;

    public ulong UInt64() => UInt32() | (ulong)UInt32() << 32;

    /// <summary>Up to <paramref name="count"/> bytes (fewer at the end of the input).</summary>
    public ReadOnlySpan<byte> Bytes(int count)
    {
        ReadOnlySpan<byte> taken = _rest[..Math.Min(count, _rest.Length)];
        _rest = _rest[taken.Length..];
        return taken;
    }
}
