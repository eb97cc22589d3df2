using System.Buffers.Binary;

namespace Lguest.Pci;

/// <summary>
/// The 256 bytes of a function's conventional configuration space, with the write semantics real
/// hardware has: each byte carries a write mask (bits software may change) and a write-one-to-clear
/// mask (status error bits). The VMM initialises the contents with the <c>Set</c> methods, which ignore
/// the masks; the guest's accesses go through <see cref="Write"/>, which honours them.
/// </summary>
/// <remarks>
/// Not synchronised: the owning <see cref="PciDevice"/> is reached through the host bridge, which
/// serialises configuration accesses as the CONFIG_ADDRESS/CONFIG_DATA pair requires.
/// </remarks>
public sealed class PciConfigurationSpace
{
    private readonly byte[] _data = new byte[PciHeader.ConfigurationSize];
    private readonly byte[] _writeMask = new byte[PciHeader.ConfigurationSize];
    private readonly byte[] _clearMask = new byte[PciHeader.ConfigurationSize];
    private int _lastCapability;
    private int _nextCapability = PciHeader.CapabilitiesStart;

    /// <summary>Reads <c>data.Length</c> bytes at <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the 256 bytes.</exception>
    public void Read(int offset, Span<byte> data)
    {
        CheckRange(offset, data.Length);
        _data.AsSpan(offset, data.Length).CopyTo(data);
    }

    /// <summary>
    /// A guest write: bits outside the write mask keep their value, and a 1 written to a
    /// write-one-to-clear bit clears it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the 256 bytes.</exception>
    public void Write(int offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        for (int i = 0; i < data.Length; i++)
        {
            int at = offset + i;
            byte value = data[i];
            byte mask = _writeMask[at];
            _data[at] = (byte)(((_data[at] & ~mask) | (value & mask)) & ~(value & _clearMask[at]));
        }
    }

    /// <summary>A copy of the 256 bytes, for a snapshot.</summary>
    public byte[] CaptureBytes() => [.. _data];

    /// <summary>
    /// Takes the bits software can change (writable and write-one-to-clear) from <paramref name="bytes"/>, a snapshot's
    /// copy, and returns true. Every other bit must already be what <paramref name="bytes"/> holds: they say what the
    /// device is (IDs, BAR types, capabilities); otherwise nothing changes and <paramref name="problem"/> names the
    /// first byte that differs.
    /// </summary>
    public bool TryRestoreBytes(ReadOnlySpan<byte> bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? problem)
    {
        if (bytes.Length != PciHeader.ConfigurationSize)
        {
            problem = $"{bytes.Length} bytes of configuration space, not {PciHeader.ConfigurationSize}";
            return false;
        }
        for (int at = 0; at < bytes.Length; at++)
        {
            byte software = (byte)(_writeMask[at] | _clearMask[at]);
            if (((bytes[at] ^ _data[at]) & ~software) != 0)
            {
                problem = $"configuration byte 0x{at:x2} is 0x{bytes[at]:x2} in the snapshot and 0x{_data[at]:x2} here, in bits software cannot change";
                return false;
            }
        }
        bytes.CopyTo(_data);
        problem = null;
        return true;
    }

    /// <summary>The byte at <paramref name="offset"/>.</summary>
    public byte ReadByte(int offset)
    {
        CheckRange(offset, 1);
        return _data[offset];
    }

    /// <summary>The little-endian 16-bit value at <paramref name="offset"/>.</summary>
    public ushort ReadUInt16(int offset)
    {
        CheckRange(offset, 2);
        return BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(offset));
    }

    /// <summary>The little-endian 32-bit value at <paramref name="offset"/>.</summary>
    public uint ReadUInt32(int offset)
    {
        CheckRange(offset, 4);
        return BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(offset));
    }

    /// <summary>Sets a byte as the device (not the guest): masks do not apply.</summary>
    public void SetByte(int offset, byte value)
    {
        CheckRange(offset, 1);
        _data[offset] = value;
    }

    /// <summary>Sets a little-endian 16-bit value as the device.</summary>
    public void SetUInt16(int offset, ushort value)
    {
        CheckRange(offset, 2);
        BinaryPrimitives.WriteUInt16LittleEndian(_data.AsSpan(offset), value);
    }

    /// <summary>Sets a little-endian 32-bit value as the device.</summary>
    public void SetUInt32(int offset, uint value)
    {
        CheckRange(offset, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(_data.AsSpan(offset), value);
    }

    /// <summary>Makes the bits of <paramref name="mask"/> (little-endian, <paramref name="width"/> bytes) guest-writable; the others read-only.</summary>
    public void SetWriteMask(int offset, int width, uint mask)
    {
        CheckWidth(offset, width);
        for (int i = 0; i < width; i++)
            _writeMask[offset + i] = (byte)(mask >> (8 * i));
    }

    /// <summary>Makes the bits of <paramref name="mask"/> write-one-to-clear (and read-only otherwise).</summary>
    public void SetWriteOneToClearMask(int offset, int width, uint mask)
    {
        CheckWidth(offset, width);
        for (int i = 0; i < width; i++)
            _clearMask[offset + i] = (byte)(mask >> (8 * i));
    }

    /// <summary>
    /// Appends a capability of <paramref name="length"/> bytes (its two header bytes included) to the
    /// capability list and returns its offset. The list is linked in order (PCI_CAPABILITY_LIST first,
    /// then each cap_next), each capability dword-aligned, and the status register's capability bit set.
    /// The caller fills the body (from offset + 2) with the <c>Set</c> methods; it is read-only to the guest.
    /// </summary>
    /// <exception cref="InvalidOperationException">The capability does not fit in configuration space.</exception>
    public int AddCapability(byte id, int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 2);
        int offset = _nextCapability;
        if (length > PciHeader.ConfigurationSize - offset)
            throw new InvalidOperationException($"capability 0x{id:x2} of {length} bytes does not fit at 0x{offset:x2}");
        _data[offset] = id;
        _data[offset + 1] = 0; // end of list until another follows
        if (_lastCapability == 0)
            _data[PciHeader.CapabilityList] = (byte)offset;
        else
            _data[_lastCapability + 1] = (byte)offset;
        SetUInt16(PciHeader.Status, (ushort)(ReadUInt16(PciHeader.Status) | (ushort)PciStatus.CapabilityList));
        _lastCapability = offset;
        // The low two bits of a capability pointer are reserved (Linux masks them): keep each one dword-aligned.
        _nextCapability = Math.Min(PciHeader.ConfigurationSize, (offset + length + 3) & ~3);
        return offset;
    }

    private static void CheckWidth(int offset, int width)
    {
        if (width is not (1 or 2 or 4))
            throw new ArgumentOutOfRangeException(nameof(width), width, "a register is 1, 2 or 4 bytes wide");
        CheckRange(offset, width);
    }

    private static void CheckRange(int offset, int length)
    {
        if (offset < 0 || length < 0 || length > PciHeader.ConfigurationSize - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"[0x{offset:x}, +{length}) is outside configuration space");
    }
}
