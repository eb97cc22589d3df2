using System.Buffers.Binary;
using System.Text;

namespace Lguest.Snapshot;

/// <summary>
/// Reads what a <see cref="SnapshotStateWriter"/> wrote, checking each field: a snapshot is a file, which may be
/// truncated, damaged or forged. Every failure is a <see cref="SnapshotException"/> naming what was being read.
/// </summary>
public sealed class SnapshotStateReader
{
    private readonly ReadOnlyMemory<byte> _data;
    private int _position;

    /// <summary>Reads <paramref name="data"/>; <paramref name="what"/> names it in errors ("the UART's state").</summary>
    public SnapshotStateReader(ReadOnlyMemory<byte> data, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(what);
        _data = data;
        What = what;
    }

    /// <summary>What is being read, for messages.</summary>
    public string What { get; }

    /// <summary>The bytes not read yet.</summary>
    public int Remaining => _data.Length - _position;

    /// <summary>Reads one byte.</summary>
    public byte ReadByte() => Take(1)[0];

    /// <summary>Reads a boolean: a byte that must be 0 or 1.</summary>
    public bool ReadBoolean()
    {
        byte value = ReadByte();
        return value switch
        {
            0 => false,
            1 => true,
            _ => throw Corrupt($"a boolean is {value}"),
        };
    }

    /// <summary>Reads a 16-bit little-endian value.</summary>
    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    /// <summary>Reads a 32-bit little-endian value.</summary>
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    /// <summary>Reads a 64-bit little-endian value.</summary>
    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    /// <summary>Reads a 128-bit little-endian value.</summary>
    public UInt128 ReadUInt128()
    {
        ulong low = ReadUInt64();
        return new UInt128(ReadUInt64(), low);
    }

    /// <summary>Reads a 32-bit count, which must be at most <paramref name="max"/>.</summary>
    public int ReadCount(int max, string of)
    {
        uint count = ReadUInt32();
        if (count > (uint)max)
            throw Corrupt($"{count} {of}, more than {max}");
        return (int)count;
    }

    /// <summary>Reads <paramref name="length"/> bytes written with <see cref="SnapshotStateWriter.WriteRaw"/>.</summary>
    public ReadOnlyMemory<byte> ReadRaw(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Take(length);
        return _data.Slice(_position - length, length);
    }

    /// <summary>Reads a byte string of at most <paramref name="maxLength"/> bytes.</summary>
    public ReadOnlyMemory<byte> ReadBytes(int maxLength)
    {
        int length = ReadCount(maxLength, "bytes");
        return ReadRaw(length);
    }

    /// <summary>Reads a name (printable ASCII, 8-bit length).</summary>
    public string ReadName()
    {
        int length = ReadByte();
        ReadOnlySpan<byte> bytes = Take(length);
        foreach (byte b in bytes)
        {
            if (b is < (byte)' ' or > (byte)'~')
                throw Corrupt("a name holds a byte that is not printable ASCII");
        }
        return Encoding.ASCII.GetString(bytes);
    }

    /// <summary>Refuses bytes left over after the last field: a record this build does not know how to read.</summary>
    public void RequireEnd()
    {
        if (Remaining != 0)
            throw Corrupt($"{Remaining} bytes left after the last field");
    }

    /// <summary>An error about the data being read, for a record's own checks.</summary>
    public SnapshotException Corrupt(string problem) => new(SnapshotRefusal.Corrupt, $"{What}: {problem}");

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > Remaining)
            throw new SnapshotException(SnapshotRefusal.Truncated, $"{What}: ends {count - Remaining} bytes early");
        ReadOnlySpan<byte> span = _data.Span.Slice(_position, count);
        _position += count;
        return span;
    }
}
