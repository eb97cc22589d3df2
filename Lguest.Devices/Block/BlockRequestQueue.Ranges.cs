using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Lguest.Devices.Interop;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

// DISCARD and WRITE_ZEROES (virtio 1.2 §5.2.6): the data is an array of
// struct virtio_blk_discard_write_zeroes { le64 sector; le32 num_sectors; le32 flags; }, each range a
// fallocate on the image. Served on the worker with blocking calls: they are rare, and cheap except
// WRITE_ZEROES on a file system that cannot zero a range, bounded by MaxWriteZeroesSectors.
internal sealed partial class BlockRequestQueue
{
    /// <summary>The size of one range.</summary>
    public const int RangeSize = 16;

    /// <summary>
    /// The most ranges in one request (max_discard_seg and max_write_zeroes_seg): Linux merges adjacent
    /// discards up to this, and each costs one fallocate, so it bounds a request's work.
    /// </summary>
    public const uint MaxRanges = 32;

    /// <summary>The most sectors one discard range may cover (max_discard_sectors, 2 GiB): a hole punched costs little.</summary>
    public const uint MaxDiscardSectors = 1u << 22;

    /// <summary>
    /// The most sectors one write-zeroes range may cover (max_write_zeroes_sectors, 32 MiB): where the file
    /// system cannot zero a range the device writes zeroes, which bounds how long one range holds the queue.
    /// </summary>
    public const uint MaxWriteZeroesSectors = 1u << 16;

    /// <summary>The alignment (and granularity) Linux should use for discards: 8 sectors, a 4 KiB host block.</summary>
    public const uint DiscardSectorAlignment = 8;

    private const uint FlagUnmap = 1;         // VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP
    private const int ZeroChunk = 64 << 10;   // the zero buffer written where fallocate cannot zero

    private static readonly byte[] Zeroes = new byte[ZeroChunk];

    private byte ServeRanges(DescriptorChain chain, uint type, ulong dataOut)
    {
        bool discard = type == VirtioBlockRequestType.Discard;
        if (dataOut == 0 || dataOut % RangeSize != 0)
            return Refuse(Refusal.BadRange, type, 0, $"{dataOut} bytes of ranges is not a whole number of {RangeSize}-byte ranges");
        if (dataOut / RangeSize > MaxRanges)
            return Refuse(Refusal.Unsupported, type, 0, $"{dataOut / RangeSize} ranges, more than the {MaxRanges} offered");
        uint limit = discard ? MaxDiscardSectors : MaxWriteZeroesSectors;
        Span<byte> range = stackalloc byte[RangeSize];
        int count = (int)(dataOut / RangeSize);
        for (int i = 0; i < count; i++)
        {
            // One copy of each range: the guest may rewrite it while we work.
            chain.CopyFromReadable(_memory, HeaderSize + (ulong)(i * RangeSize), range);
            ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(range);
            uint sectors = BinaryPrimitives.ReadUInt32LittleEndian(range[8..]);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(range[12..]);
            // §5.2.6.2: unknown flags, or unmap on a discard, are not supported.
            if ((flags & ~FlagUnmap) != 0 || (discard && flags != 0))
                return Refuse(Refusal.Unsupported, type, sector, $"range flags {flags:x}");
            if (sectors > limit)
                return Refuse(Refusal.BadRange, type, sector, $"{sectors} sectors in one range, more than the {limit} offered");
            if (!CheckRange(type, sector, (ulong)sectors << SectorShift))
                return VirtioBlockStatus.IoError;
            long offset = (long)(sector << SectorShift), length = (long)sectors << SectorShift;
            if (length == 0)
                continue;
            int errno = discard ? Discard(offset, length) : WriteZeroes(offset, length, (flags & FlagUnmap) != 0);
            if (errno != 0)
            {
                _logger.HostIoFailed(_name, discard ? "fallocate(PUNCH_HOLE)" : "write zeroes", offset, Marshal.GetPInvokeErrorMessage(errno));
                return VirtioBlockStatus.IoError;
            }
            _logger.Request(_name, type, sector, (ulong)length, VirtioBlockStatus.Ok);
        }
        return VirtioBlockStatus.Ok;
    }

    // A discard is a hint: where the file system cannot punch holes, the data simply stays.
    private int Discard(long offset, long length)
    {
        int errno = FileSpace.Allocate(_file, FileSpace.PunchHole | FileSpace.KeepSize, offset, length);
        return errno == FileSpace.EOPNOTSUPP ? 0 : errno;
    }

    // Zeroes must read back as zeroes: a hole when the driver allows unmapping (write_zeroes_may_unmap),
    // else a zeroed range that stays allocated, else zeroes written.
    private int WriteZeroes(long offset, long length, bool unmap)
    {
        int errno = FileSpace.Allocate(_file, unmap ? FileSpace.PunchHole | FileSpace.KeepSize : FileSpace.ZeroRange | FileSpace.KeepSize, offset, length);
        if (errno != FileSpace.EOPNOTSUPP)
            return errno;
        try
        {
            for (long done = 0; done < length; done += ZeroChunk)
                RandomAccess.Write(_file, Zeroes.AsSpan(0, (int)Math.Min(ZeroChunk, length - done)), offset + done);
        }
        catch (IOException)
        {
            return 5; // EIO: RandomAccess has logged nothing, the caller logs the failure
        }
        return 0;
    }
}
