using System.Runtime.InteropServices;

namespace Lguest.Boot;

/// <summary>
/// One range of the guest's physical memory map: struct boot_e820_entry
/// (arch/x86/include/uapi/asm/bootparam.h), 20 packed bytes, as the zero page holds it.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public readonly struct E820Entry : IEquatable<E820Entry>
{
    /// <summary>sizeof(struct boot_e820_entry).</summary>
    public const int Size = 20;

    private readonly ulong _address;
    private readonly ulong _size;
    private readonly E820Type _type;

    /// <summary>Creates an entry for [<paramref name="address"/>, +<paramref name="size"/>) of type <paramref name="type"/>.</summary>
    public E820Entry(ulong address, ulong size, E820Type type)
    {
        _address = address;
        _size = size;
        _type = type;
    }

    /// <summary>The first guest-physical address of the range.</summary>
    public ulong Address => _address;

    /// <summary>The range's length in bytes.</summary>
    public ulong Length => _size;

    /// <summary>What the range is.</summary>
    public E820Type Type => _type;

    /// <summary>The first address past the range.</summary>
    public ulong End => _address + _size;

    /// <inheritdoc />
    public bool Equals(E820Entry other) => _address == other._address && _size == other._size && _type == other._type;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is E820Entry other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_address, _size, _type);

    /// <summary>Compares two entries field by field.</summary>
    public static bool operator ==(E820Entry left, E820Entry right) => left.Equals(right);

    /// <summary>Compares two entries field by field.</summary>
    public static bool operator !=(E820Entry left, E820Entry right) => !left.Equals(right);

    /// <inheritdoc />
    public override string ToString() => $"[0x{_address:x}, 0x{End:x}) {_type}";
}
