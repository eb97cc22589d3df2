using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Lguest.Snapshot;

/// <summary>
/// Writes a state record's fields in the snapshot's binary encoding: fixed-width little-endian integers,
/// booleans as one byte (0 or 1), byte strings and ASCII names prefixed with their length. The matching
/// <see cref="SnapshotStateReader"/> checks every field it reads back; a device's state hook may use both.
/// </summary>
public sealed class SnapshotStateWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new();

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    /// <summary>Writes one byte.</summary>
    public void WriteByte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
    }

    /// <summary>Writes a boolean as one byte, 1 or 0.</summary>
    public void WriteBoolean(bool value) => WriteByte(value ? (byte)1 : (byte)0);

    /// <summary>Writes a 16-bit value, little-endian.</summary>
    public void WriteUInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.GetSpan(2), value);
        _buffer.Advance(2);
    }

    /// <summary>Writes a 32-bit value, little-endian.</summary>
    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    /// <summary>Writes a 64-bit value, little-endian.</summary>
    public void WriteUInt64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    /// <summary>Writes a 128-bit value, little-endian.</summary>
    public void WriteUInt128(UInt128 value)
    {
        WriteUInt64((ulong)value);
        WriteUInt64((ulong)(value >> 64));
    }

    /// <summary>Writes bytes as they are, with no length: for fields of a fixed size.</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes) => _buffer.Write(bytes);

    /// <summary>Writes a byte string: its length (32 bits), then the bytes.</summary>
    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        WriteUInt32((uint)bytes.Length);
        _buffer.Write(bytes);
    }

    /// <summary>Writes a name of at most 255 printable ASCII characters: its length (8 bits), then the characters.</summary>
    /// <exception cref="ArgumentException">The name is longer, or not printable ASCII.</exception>
    public void WriteName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length > byte.MaxValue || !name.All(c => c is >= ' ' and <= '~'))
            throw new ArgumentException($"'{name}' is not a name of at most 255 printable ASCII characters", nameof(name));
        WriteByte((byte)name.Length);
        _buffer.Write(Encoding.ASCII.GetBytes(name));
    }

    /// <summary>A copy of the bytes written.</summary>
    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();
}
