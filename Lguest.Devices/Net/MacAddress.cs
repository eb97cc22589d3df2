using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Lguest.Devices.Interop;

namespace Lguest.Devices;

/// <summary>
/// A 48-bit Ethernet address, as the guest's card reports it in its configuration (VIRTIO_NET_F_MAC).
/// Written "52:54:00:12:34:56": six pairs of hex digits separated by colons (the seed's format).
/// </summary>
public readonly record struct MacAddress
{
    /// <summary>The number of octets.</summary>
    public const int Length = 6;

    private readonly ulong _value; // the octets, first octet in the most significant of the low 48 bits

    private MacAddress(ulong value) => _value = value & 0xffff_ffff_ffffUL;

    /// <summary>An address from its six octets, in transmission order.</summary>
    /// <exception cref="ArgumentException"><paramref name="octets"/> is not six bytes long.</exception>
    public MacAddress(ReadOnlySpan<byte> octets)
    {
        if (octets.Length != Length)
            throw new ArgumentException($"a MAC address has {Length} octets, not {octets.Length}", nameof(octets));
        ulong value = 0;
        foreach (byte b in octets)
            value = (value << 8) | b;
        _value = value;
    }

    /// <summary>Whether the group bit (bit 0 of the first octet) is set: such an address cannot be a card's own.</summary>
    public bool IsMulticast => (FirstOctet & 1) != 0;

    /// <summary>Whether the locally-administered bit (bit 1 of the first octet) is set.</summary>
    public bool IsLocallyAdministered => (FirstOctet & 2) != 0;

    /// <summary>Whether every octet is zero.</summary>
    public bool IsZero => _value == 0;

    private byte FirstOctet => (byte)(_value >> 40);

    /// <summary>Copies the six octets into <paramref name="destination"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, Length, nameof(destination));
        for (int i = 0; i < Length; i++)
            destination[i] = (byte)(_value >> (40 - 8 * i));
    }

    /// <summary>
    /// A random unicast, locally-administered address: what the card gets when none is given (so the
    /// guest keeps it across its reboots, unlike the one Linux would invent without VIRTIO_NET_F_MAC).
    /// </summary>
    public static MacAddress CreateRandom()
    {
        Span<byte> octets = stackalloc byte[Length];
        KernelRandom.Fill(octets);
        octets[0] = (byte)((octets[0] & 0xfe) | 0x02); // unicast, locally administered (IEEE 802 §8.2)
        return new MacAddress(octets);
    }

    /// <summary>Parses "xx:xx:xx:xx:xx:xx" (hex digits, either case); false for anything else.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out MacAddress address)
    {
        address = default;
        if (text is null || text.Length != 3 * Length - 1)
            return false;
        ulong value = 0;
        for (int i = 0; i < Length; i++)
        {
            if (i > 0 && text[3 * i - 1] != ':')
                return false;
            if (!byte.TryParse(text.AsSpan(3 * i, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte octet))
                return false;
            value = (value << 8) | octet;
        }
        address = new MacAddress(value);
        return true;
    }

    /// <summary>Parses "xx:xx:xx:xx:xx:xx".</summary>
    /// <exception cref="FormatException">The text is not six colon-separated pairs of hex digits.</exception>
    public static MacAddress Parse(string text) =>
        TryParse(text, out MacAddress address) ? address : throw new FormatException($"'{text}' is not a MAC address (xx:xx:xx:xx:xx:xx)");

    /// <summary>The address as six lower-case hex pairs separated by colons.</summary>
    public override string ToString() => string.Create(3 * Length - 1, _value, static (span, value) =>
    {
        for (int i = 0; i < Length; i++)
        {
            if (i > 0)
                span[3 * i - 1] = ':';
            ((byte)(value >> (40 - 8 * i))).TryFormat(span.Slice(3 * i, 2), out _, "x2", CultureInfo.InvariantCulture);
        }
    });
}
