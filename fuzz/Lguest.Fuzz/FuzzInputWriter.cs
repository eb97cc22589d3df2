using System.Buffers.Binary;

namespace Lguest.Fuzz;

/// <summary>Builds inputs in the layout <see cref="FuzzInput"/> reads, for the seeds.</summary>
internal sealed class FuzzInputWriter
{
    private readonly List<byte> _bytes = [];

    public FuzzInputWriter Byte(int value)
    {
        _bytes.Add((byte)value);
        return this;
    }

    public FuzzInputWriter UInt16(int value) => Byte(value).Byte(value >> 8);

    public FuzzInputWriter UInt32(uint value) => UInt16((int)(value & 0xffff)).UInt16((int)(value >> 16));

    public FuzzInputWriter UInt64(ulong value) => UInt32((uint)value).UInt32((uint)(value >> 32));

    public FuzzInputWriter Bytes(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
            _bytes.Add(b);
        return this;
    }

    public byte[] ToArray() => [.. _bytes];

    /// <summary>A guest memory image under construction: little-endian stores at offsets.</summary>
    public static void Put16(byte[] image, int offset, int value) => BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(offset), (ushort)value);

    public static void Put32(byte[] image, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(offset), value);

    public static void Put64(byte[] image, int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(offset), value);

    /// <summary>A split-ring descriptor (virtio 1.2 §2.7.5) at entry <paramref name="index"/> of the table at <paramref name="table"/>.</summary>
    public static void PutDescriptor(byte[] image, int table, int index, ulong address, uint length, int flags, int next)
    {
        int at = table + 16 * index;
        Put64(image, at, address);
        Put32(image, at + 8, length);
        Put16(image, at + 12, flags);
        Put16(image, at + 14, next);
    }
}
