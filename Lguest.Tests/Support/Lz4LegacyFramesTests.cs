using System.Buffers.Binary;
using K4os.Compression.LZ4;

namespace Lguest.Tests.Support;

/// <summary>The test support's LZ4 legacy frame walk, on streams built with the same codec.</summary>
public class Lz4LegacyFramesTests
{
    private static byte[] Stream(byte[] data, int blockSize, bool repeatMagic = false)
    {
        var stream = new List<byte>();
        void U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); stream.AddRange(b); }
        U32(Lz4LegacyFrames.Magic);
        for (int at = 0; at < data.Length; at += blockSize)
        {
            if (repeatMagic && at > 0)
                U32(Lz4LegacyFrames.Magic);
            ReadOnlySpan<byte> block = data.AsSpan(at, Math.Min(blockSize, data.Length - at));
            var compressed = new byte[LZ4Codec.MaximumOutputSize(block.Length)];
            int n = LZ4Codec.Encode(block, compressed);
            U32((uint)n);
            stream.AddRange(compressed[..n]);
        }
        U32((uint)data.Length);
        return [.. stream];
    }

    private static byte[] Data(int length) => Enumerable.Range(0, length).Select(i => (byte)(i % 251 ^ i / 977)).ToArray();

    [Test]
    public void DecompressKernelPayload_joins_the_blocks_in_order()
    {
        byte[] data = Data(3 * 65536 + 1234);
        Assert.That(Lz4LegacyFrames.DecompressKernelPayload(Stream(data, 65536)), Is.EqualTo(data));
    }

    [Test]
    public void DecompressKernelPayload_skips_a_repeated_magic_between_blocks()
    {
        byte[] data = Data(100_000);
        Assert.That(Lz4LegacyFrames.DecompressKernelPayload(Stream(data, 30_000, repeatMagic: true)), Is.EqualTo(data));
    }

    [Test]
    public void DecompressKernelPayload_refuses_a_block_running_past_the_stream()
    {
        byte[] stream = Stream(Data(10_000), 10_000);
        BinaryPrimitives.WriteUInt32LittleEndian(stream.AsSpan(4), 1_000_000);
        Assert.That(() => Lz4LegacyFrames.DecompressKernelPayload(stream), Throws.TypeOf<InvalidDataException>().With.Message.Contains("runs past"));
    }

    [Test]
    public void DecompressKernelPayload_refuses_a_size_that_does_not_match()
    {
        byte[] stream = Stream(Data(10_000), 4096);
        BinaryPrimitives.WriteUInt32LittleEndian(stream.AsSpan(stream.Length - 4), 10_001);
        Assert.That(() => Lz4LegacyFrames.DecompressKernelPayload(stream), Throws.TypeOf<InvalidDataException>().With.Message.Contains("10001"));
    }
}
