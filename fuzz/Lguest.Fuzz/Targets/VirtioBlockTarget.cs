using System.Buffers.Binary;
using Lguest.Devices;
using Lguest.Fuzz.Fakes;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Fuzz.Targets;

/// <summary>
/// virtio-blk request parsing (virtio 1.2 §5.2.6): the input is the guest memory holding the request queue,
/// served once by the device's own queue code against a 64 KiB disk image. The device may write only into
/// the requests' writable buffers and its used ring, never grows the image, and leaves a read-only one alone.
/// </summary>
/// <remarks>
/// Layout: byte 0 = the ring mode (<see cref="GuestRings.Mode"/>) with read-only in bit 5 and DISCARD and
/// WRITE_ZEROES negotiated in bit 6; the rest is RAM from 0.
/// </remarks>
public sealed class VirtioBlockTarget : FuzzTarget, IDisposable
{
    private const int MemorySize = 0x10000;
    private const int ImageSize = 0x10000;

    private readonly GuestMemory _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MemorySize));
    private readonly byte[] _before = new byte[MemorySize];
    private readonly byte[] _pattern = new byte[ImageSize];
    private readonly byte[] _image = new byte[ImageSize];
    private readonly string _imagePath;
    private readonly SafeFileHandle _file;
    private readonly EventNotifier _notifier = new();

    /// <summary>Creates the disk image in the temporary folder (tmpfs under fuzz/run.sh).</summary>
    public VirtioBlockTarget()
    {
        for (int i = 0; i < _pattern.Length; i++)
            _pattern[i] = (byte)(i * 31 + (i >> 9));
        _imagePath = Path.Combine(Path.GetTempPath(), $"lguest-fuzz-blk-{Environment.ProcessId}-{Guid.NewGuid():N}.img");
        File.WriteAllBytes(_imagePath, _pattern);
        _file = File.OpenHandle(_imagePath, FileMode.Open, FileAccess.ReadWrite);
    }

    /// <inheritdoc />
    public override string Name => "virtio-blk";

    /// <inheritdoc />
    public override int MaxInputLength => 1 + 0x2000;

    /// <inheritdoc />
    public void Dispose()
    {
        _file.Dispose();
        File.Delete(_imagePath);
        _memory.Dispose();
        _notifier.Dispose();
    }

    /// <inheritdoc />
    protected override void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        byte mode = reader.Byte();
        (int size, ulong features) = GuestRings.Mode(mode);
        bool readOnly = (mode & 32) != 0;
        bool ranges = (mode & 64) != 0;
        Span<byte> ram = _memory.GetSpan(GuestAddress.Zero, MemorySize);
        ram.Clear();
        reader.Bytes(MemorySize).CopyTo(ram);
        ram.CopyTo(_before);
        ushort usedIndexBefore = BinaryPrimitives.ReadUInt16LittleEndian(ram[(GuestRings.Used + 2)..]);

        var chains = GuestRings.Preview(_memory, size, features, size);
        var transport = new FuzzVirtioTransport();
        var queue = new Virtqueue(0, new Vring(_memory, "block vq 0", size, GuestRings.Addresses, features), _notifier);
        var requests = new BlockRequestQueue(_memory, _file, ImageSize / VirtioBlockDevice.SectorSize, readOnly, "fuzz-serial"u8.ToArray(),
            "block", NullLogger.Instance, queue, transport,
            settings: ranges ? new BlockQueueSettings(true, true, VirtioBlockIoEngine.Sync, 1) : BlockQueueSettings.Plain);
        try
        {
            _ = requests.ServeAvailable();
        }
        finally
        {
            CheckImage(readOnly);
        }
        GuestRings.CheckWrites(ram, _before, size, usedIndexBefore, chains, allowBufferWrites: true);
    }

    // The image keeps its size whatever sector the guest names, and its bytes when it is read-only.
    private void CheckImage(bool readOnly)
    {
        long length = RandomAccess.GetLength(_file);
        bool same = length == ImageSize && RandomAccess.Read(_file, _image, 0) == ImageSize && _image.AsSpan().SequenceEqual(_pattern);
        if (!same)
        {
            RandomAccess.SetLength(_file, ImageSize);
            RandomAccess.Write(_file, _pattern, 0);
        }
        InvariantViolationException.ThrowUnless(length == ImageSize, $"the disk image grew or shrank to {length} bytes");
        InvariantViolationException.ThrowUnless(same || !readOnly, "a read-only disk image was written");
    }

    /// <inheritdoc />
    public override IEnumerable<KeyValuePair<string, byte[]>> Seeds()
    {
        // Each seed: a queue of 8 (mode 3) with requests at 0x1000 (headers), data at 0x2000, status bytes at 0x1f00.
        byte[] Memory(params (uint Type, ulong Sector, uint DataLength, bool DataIn)[] requests)
        {
            var ram = new byte[0x3000];
            int d = 0;
            for (int r = 0; r < requests.Length; r++)
            {
                (uint type, ulong sector, uint dataLength, bool dataIn) = requests[r];
                int header = 0x1000 + 16 * r;
                FuzzInputWriter.Put32(ram, header, type);
                FuzzInputWriter.Put64(ram, header + 8, sector);
                int head = d;
                FuzzInputWriter.PutDescriptor(ram, GuestRings.Descriptors, d, (ulong)header, 16, 1, d + 1);
                d++;
                if (dataLength > 0)
                {
                    FuzzInputWriter.PutDescriptor(ram, GuestRings.Descriptors, d, 0x2000 + 0x200UL * (ulong)r, dataLength, dataIn ? 3 : 1, d + 1);
                    d++;
                }
                FuzzInputWriter.PutDescriptor(ram, GuestRings.Descriptors, d, 0x1f00 + (ulong)r, 1, 2, 0);
                d++;
                FuzzInputWriter.Put16(ram, GuestRings.Available + 4 + 2 * r, head);
            }
            FuzzInputWriter.Put16(ram, GuestRings.Available + 2, requests.Length);
            return ram;
        }
        byte[] Input(int mode, byte[] ram) => new FuzzInputWriter().Byte(mode).Bytes(ram).ToArray();

        yield return new("read-write", Input(4, Memory((VirtioBlockRequestType.In, 3, 512, true), (VirtioBlockRequestType.Out, 5, 512, false))));
        yield return new("flush-get-id", Input(3 | 16, Memory((VirtioBlockRequestType.Flush, 0, 0, false), (VirtioBlockRequestType.GetId, 0, 20, true))));
        yield return new("read-only-write", Input(3 | 32, Memory((VirtioBlockRequestType.Out, 1, 512, false))));
        yield return new("past-the-end", Input(3, Memory((VirtioBlockRequestType.In, 127, 1024, true), (VirtioBlockRequestType.Discard, 0, 16, false))));
        // DISCARD (sectors 8-23) and WRITE_ZEROES (two ranges, one with unmap), then one past the end.
        byte[] discard = Memory((VirtioBlockRequestType.Discard, 0, 16, false), (VirtioBlockRequestType.WriteZeroes, 0, 32, false),
            (VirtioBlockRequestType.Discard, 0, 16, false));
        FuzzInputWriter.Put64(discard, 0x2000, 8);
        FuzzInputWriter.Put32(discard, 0x2008, 16);
        FuzzInputWriter.Put64(discard, 0x2200, 40);
        FuzzInputWriter.Put32(discard, 0x2208, 8);
        FuzzInputWriter.Put64(discard, 0x2210, 60);
        FuzzInputWriter.Put32(discard, 0x2218, 4);
        FuzzInputWriter.Put32(discard, 0x221c, 1);
        FuzzInputWriter.Put64(discard, 0x2400, 120);
        FuzzInputWriter.Put32(discard, 0x2408, 16);
        yield return new("discard-write-zeroes", Input(4 | 64, discard));
        // One request through an indirect table at 0x1800: header, data, status.
        var indirect = new byte[0x3000];
        FuzzInputWriter.PutDescriptor(indirect, GuestRings.Descriptors, 0, 0x1800, 48, 4, 0);
        FuzzInputWriter.PutDescriptor(indirect, 0x1800, 0, 0x1000, 16, 1, 1);
        FuzzInputWriter.PutDescriptor(indirect, 0x1800, 1, 0x2000, 1024, 3, 2);
        FuzzInputWriter.PutDescriptor(indirect, 0x1800, 2, 0x1f00, 1, 2, 0);
        FuzzInputWriter.Put16(indirect, GuestRings.Available + 2, 1);
        yield return new("indirect-read", Input(3 | 8, indirect));
    }
}
