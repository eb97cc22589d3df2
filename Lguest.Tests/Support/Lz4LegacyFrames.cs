using System.Buffers.Binary;
using K4os.Compression.LZ4;

namespace Lguest.Tests.Support;

/// <summary>
/// The LZ4 "legacy" frame format the kernel's compressed payload uses (lib/decompress_unlz4.c): a
/// 4-byte magic, then blocks each led by its 4-byte little-endian compressed size and decompressing to
/// at most 8 MiB; the kernel build appends the decompressed size as the payload's last 4 bytes. Only
/// this walk is ours: each block is decoded by K4os.Compression.LZ4.
/// </summary>
internal static class Lz4LegacyFrames
{
    public const uint Magic = 0x184C_2102;
    public const int MaxBlockOutput = 8 << 20;

    /// <summary>Decompresses a kernel payload whose last 4 bytes give the decompressed size.</summary>
    public static byte[] DecompressKernelPayload(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 8 || BinaryPrimitives.ReadUInt32LittleEndian(payload) != Magic)
            throw new InvalidDataException("not an LZ4 legacy stream");
        uint expected = BinaryPrimitives.ReadUInt32LittleEndian(payload[^4..]);
        var output = new byte[expected];
        int written = Decompress(payload[4..^4], output);
        if (written != expected)
            throw new InvalidDataException($"decompressed {written} bytes, the payload says {expected}");
        return output;
    }

    /// <summary>Decompresses the blocks in <paramref name="blocks"/> (after the magic) into <paramref name="output"/>; returns the bytes written.</summary>
    public static int Decompress(ReadOnlySpan<byte> blocks, Span<byte> output)
    {
        int position = 0, written = 0;
        while (blocks.Length - position >= 4)
        {
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(blocks[position..]);
            position += 4;
            if (size == Magic)
                continue; // concatenated streams repeat the magic
            if (size > (uint)(blocks.Length - position))
                throw new InvalidDataException($"block of {size} bytes at {position - 4} runs past the stream");
            int room = Math.Min(MaxBlockOutput, output.Length - written);
            int n = LZ4Codec.Decode(blocks.Slice(position, (int)size), output.Slice(written, room));
            if (n < 0)
                throw new InvalidDataException($"corrupt LZ4 block at {position - 4}");
            written += n;
            position += (int)size;
        }
        return written;
    }
}
