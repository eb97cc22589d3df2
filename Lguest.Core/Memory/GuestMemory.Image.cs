using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Lguest.Interop;
using Lguest.Snapshot;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Memory;

// Guest RAM to and from a sparse image file (snapshots). Writing visits only the pages the guest ever touched, as
// the kernel's page table says (/proc/self/pagemap), plus those the file RAM was mapped from still holds, and skips
// the ones that are zero; restoring maps the file copy-on-write after checking its length and a sample of its pages,
// so it costs the same for 256 MiB as for 2 GiB and each page is read from the file the first time the guest touches
// it. The whole image's checksum is kept too, for a restore that asks to read everything (ImageVerification.Full).
public sealed unsafe partial class GuestMemory
{
    private const int PageSize = (int)GuestMemoryLayout.PageSize;

    /// <summary>How much is written or hashed at once: 1 MiB, a buffer's worth, never all of RAM.</summary>
    private const int ChunkSize = 1 << 20;

    // /proc/self/pagemap (Documentation/admin-guide/mm/pagemap.rst): one u64 per virtual page.
    private const ulong PagemapPresent = 1UL << 63;
    private const ulong PagemapSwapped = 1UL << 62;

    /// <summary>The image file RAM was mapped from (<see cref="MapImage"/>), or null for anonymous RAM.</summary>
    private SafeFileHandle? _image;

    /// <summary>
    /// Writes guest RAM to <paramref name="path"/> (created or truncated) as a sparse image: only pages that are
    /// not zero, flushed to disk before this returns. Call only while nothing writes guest memory (the guest paused,
    /// the devices quiescent).
    /// </summary>
    /// <exception cref="IOException">The file cannot be written.</exception>
    /// <exception cref="SnapshotException"><paramref name="path"/> is the image this memory runs from.</exception>
    public GuestMemoryImage WriteImage(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(_disposed, this);
        // Truncating the file a copy-on-write mapping reads from would take the untouched pages from under the guest.
        if (_image is not null && File.Exists(path))
        {
            using SafeFileHandle existing = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            if (Libc.FileIdentity(existing) is { } target && Libc.FileIdentity(_image) == target)
                throw new SnapshotException(SnapshotRefusal.NotSupported, $"cannot write a snapshot over {path}: this guest's memory is mapped from it");
        }
        // A new file, never one truncated in place: other guests restored from an older image at this path map it
        // copy-on-write, and would lose the pages they have not touched yet (SIGBUS). Unlinked, it lives on for them.
        File.Delete(path);
        using SafeFileHandle file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        RandomAccess.SetLength(file, (long)Layout.TotalSize);

        var extents = new List<GuestMemoryExtent>();
        ulong imageOffset = 0;
        for (int r = 0; r < _regions.Length; r++)
        {
            ulong pages = _regions[r].Size / (ulong)PageSize;
            ulong[] candidates = CandidatePages(r, imageOffset, pages);
            for (ulong page = 0; page < pages; page++)
            {
                if ((candidates[page >> 6] & (1UL << (int)(page & 63))) == 0 || IsZeroPage(r, page))
                    continue;
                ulong at = imageOffset + page * (ulong)PageSize;
                if (page > 0 && extents.Count > 0 && extents[^1].End == at) // an extent never spans two regions
                    extents[^1] = extents[^1] with { Length = extents[^1].Length + (ulong)PageSize };
                else
                    extents.Add(new GuestMemoryExtent(at, (ulong)PageSize));
            }
            imageOffset += _regions[r].Size;
        }

        extents = Coarsen(extents, GuestMemoryImage.MaxExtents);

        var hash = new XxHash128();
        foreach (GuestMemoryExtent extent in extents)
        {
            AppendExtentHeader(hash, extent);
            for (ulong done = 0; done < extent.Length; done += ChunkSize)
            {
                ReadOnlySpan<byte> chunk = ImageSpan(extent.Offset + done, (int)Math.Min(ChunkSize, extent.Length - done));
                RandomAccess.Write(file, chunk, (long)(extent.Offset + done));
                hash.Append(chunk);
            }
        }
        RandomAccess.FlushToDisk(file);
        UInt128 checksum = hash.GetCurrentHashAsUInt128();
        var unsampled = new GuestMemoryImage(Layout.TotalSize, extents, checksum, 0);
        var sample = new XxHash128();
        foreach (ulong offset in unsampled.SampleOffsets())
            AppendSamplePage(sample, offset, ImageSpan(offset, PageSize));
        return unsampled with { SampleChecksum = sample.GetCurrentHashAsUInt128() };
    }

    /// <summary>
    /// Maps guest RAM for <paramref name="layout"/> from the image at <paramref name="path"/>, copy-on-write: the file
    /// is never written, the guest's changes stay in this process, and pages load from the file when first touched.
    /// The image is checked against <paramref name="image"/> first: its length and extents always, then a sample of
    /// its pages or, with <see cref="ImageVerification.Full"/>, every extent's bytes and no data outside them; nothing
    /// is mapped when it does not match. The file must not change while the memory lives.
    /// </summary>
    /// <exception cref="SnapshotException">The file is shorter or longer than the guest's RAM, or its contents do not match.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static GuestMemory MapImage(GuestMemoryLayout layout, string path, GuestMemoryImage image, ImageVerification verification = ImageVerification.Sample)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(image);
        if (image.Size != layout.TotalSize)
            throw new SnapshotException(SnapshotRefusal.Corrupt, $"the memory image holds {image.Size} bytes of RAM; the machine has {layout.TotalSize}");
        SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            VerifyImage(file, path, image, verification);
            return MapImageFile(layout, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Checks an image file against its description: its length, the extents' placement, and the sample checksum
    /// (at most <see cref="GuestMemoryImage.SamplePages"/> pages read); with <see cref="ImageVerification.Full"/> also
    /// the checksum over every extent and that what the file holds outside them (data a copy without holes may have
    /// written) is zeros, which costs a read of the data the image holds (not of the whole of RAM, when the file
    /// system keeps it sparse).
    /// </summary>
    internal static void VerifyImage(SafeFileHandle file, string path, GuestMemoryImage image, ImageVerification verification)
    {
        long length = RandomAccess.GetLength(file);
        if ((ulong)length != image.Size)
            throw new SnapshotException(length < (long)Math.Min(image.Size, long.MaxValue) ? SnapshotRefusal.Truncated : SnapshotRefusal.Corrupt,
                $"{path} is {length} bytes; the snapshot's guest has {image.Size} bytes of RAM");
        CheckExtents(image);
        VerifySample(file, path, image);
        if (verification == ImageVerification.Full)
            VerifyEveryByte(file, path, image);
    }

    // The sampled pages against the sample checksum: a few hundred 4 KiB reads, whatever the size of RAM.
    private static void VerifySample(SafeFileHandle file, string path, GuestMemoryImage image)
    {
        byte[] page = new byte[PageSize];
        var hash = new XxHash128();
        int sampled = 0;
        foreach (ulong offset in image.SampleOffsets())
        {
            ReadExactly(file, page, offset, path);
            AppendSamplePage(hash, offset, page);
            sampled++;
        }
        if (hash.GetCurrentHashAsUInt128() != image.SampleChecksum)
            throw new SnapshotException(SnapshotRefusal.Corrupt, $"{path}: the guest memory does not match its checksum (on the {sampled} pages sampled)");
    }

    // Every extent against the image's checksum, and zeros outside them.
    private static void VerifyEveryByte(SafeFileHandle file, string path, GuestMemoryImage image)
    {
        byte[] buffer = new byte[ChunkSize];
        var hash = new XxHash128();
        foreach (GuestMemoryExtent extent in image.Extents)
        {
            AppendExtentHeader(hash, extent);
            for (ulong done = 0; done < extent.Length; done += ChunkSize)
            {
                Span<byte> chunk = buffer.AsSpan(0, (int)Math.Min(ChunkSize, extent.Length - done));
                ReadExactly(file, chunk, extent.Offset + done, path);
                hash.Append(chunk);
            }
        }
        if (hash.GetCurrentHashAsUInt128() != image.Checksum)
            throw new SnapshotException(SnapshotRefusal.Corrupt, $"{path}: the guest memory does not match its checksum");

        // Outside the extents the image is zeros: holes, or zeros written by a copy that did not keep the holes.
        int next = 0;
        foreach ((ulong start, ulong end) in DataRanges(file, image.Size))
        {
            for (ulong at = start; at < end;)
            {
                while (next < image.Extents.Count && image.Extents[next].End <= at)
                    next++;
                if (next < image.Extents.Count && image.Extents[next].Offset <= at)
                {
                    at = image.Extents[next].End;
                    continue;
                }
                ulong stop = Math.Min(end, next < image.Extents.Count ? image.Extents[next].Offset : end);
                int count = (int)Math.Min(ChunkSize, stop - at);
                Span<byte> chunk = buffer.AsSpan(0, count);
                ReadExactly(file, chunk, at, path);
                if (chunk.ContainsAnyExcept((byte)0))
                    throw new SnapshotException(SnapshotRefusal.Corrupt, $"{path}: data at offset 0x{at:x} where the snapshot holds only zeros");
                at += (ulong)count;
            }
        }
    }

    // At most `max` extents: neighbours in one region closer than a gap that doubles until they fit are joined, the
    // zero pages between them written as data. Never needed below 4 GiB of RAM (a page in two nonzero: 512 Ki extents).
    internal List<GuestMemoryExtent> Coarsen(List<GuestMemoryExtent> extents, int max)
    {
        for (ulong gap = (ulong)PageSize; extents.Count > max; gap *= 2)
        {
            var joined = new List<GuestMemoryExtent>(extents.Count);
            foreach (GuestMemoryExtent e in extents)
            {
                if (joined.Count > 0 && e.Offset - joined[^1].End <= gap && RegionOf(e.Offset) == RegionOf(joined[^1].Offset))
                    joined[^1] = joined[^1] with { Length = e.End - joined[^1].Offset };
                else
                    joined.Add(e);
            }
            extents = joined;
        }
        return extents;
    }

    private int RegionOf(ulong imageOffset)
    {
        for (int i = 0; i < _regions.Length; i++)
        {
            if (imageOffset < _regions[i].Size)
                return i;
            imageOffset -= _regions[i].Size;
        }
        return _regions.Length;
    }

    // Extents must be page-aligned runs, in order, apart, inside the image: they came from a manifest.
    internal static void CheckExtents(GuestMemoryImage image)
    {
        if (image.Extents.Count > GuestMemoryImage.MaxExtents)
            throw new SnapshotException(SnapshotRefusal.Corrupt, $"the memory image lists {image.Extents.Count} extents, more than {GuestMemoryImage.MaxExtents}");
        ulong previousEnd = 0;
        for (int i = 0; i < image.Extents.Count; i++)
        {
            GuestMemoryExtent e = image.Extents[i];
            if (e.Length == 0 || e.Offset % (ulong)PageSize != 0 || e.Length % (ulong)PageSize != 0
                || e.Offset > image.Size || e.Length > image.Size - e.Offset || (i > 0 && e.Offset <= previousEnd))
                throw new SnapshotException(SnapshotRefusal.Corrupt, $"memory extent {i} [0x{e.Offset:x}, +0x{e.Length:x}) is misplaced");
            previousEnd = e.End;
        }
    }

    private static GuestMemory MapImageFile(GuestMemoryLayout layout, SafeFileHandle file)
    {
        ulong total = layout.TotalSize;
        (nint reservation, nuint reservationSize, nint start) = Reserve(total, reservationFlags: 0);
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            int fd = (int)file.DangerousGetHandle();
            // One mapping for all regions: the image lays them out one after another, as the reservation does.
            nint ram = Libc.Mmap(start, (nuint)total, Libc.ProtRead | Libc.ProtWrite,
                Libc.MapPrivate | Libc.MapNoReserve | Libc.MapFixed, fd, 0);
            if (ram == Libc.MapFailed)
            {
                int errno = Marshal.GetLastPInvokeError();
                _ = Libc.Munmap(reservation, reservationSize);
                throw MappingFailed(total, errno);
            }
            _ = Libc.Madvise(ram, (nuint)total, Libc.MadvDontFork);
            return new GuestMemory(layout, reservation, reservationSize, ram) { _image = file };
        }
        finally
        {
            if (added)
                file.DangerousRelease();
        }
    }

    // The pages of region r to look at: present or swapped in this process's page table, or data in the image RAM
    // was mapped from (pages the guest never touched since, which only the file holds). One bit per page.
    private ulong[] CandidatePages(int r, ulong imageOffset, ulong pages)
    {
        var bits = new ulong[(pages + 63) / 64];
        using (SafeFileHandle pagemap = File.OpenHandle("/proc/self/pagemap", FileMode.Open, FileAccess.Read))
        {
            ulong firstVirtualPage = (ulong)_regionBases[r] / (ulong)PageSize;
            var entries = new ulong[ChunkSize / sizeof(ulong)];
            Span<byte> bytes = MemoryMarshal.AsBytes(entries.AsSpan());
            for (ulong page = 0; page < pages; page += (ulong)entries.Length)
            {
                int count = (int)Math.Min((ulong)entries.Length, pages - page);
                ReadExactly(pagemap, bytes[..(count * sizeof(ulong))], (firstVirtualPage + page) * sizeof(ulong), "/proc/self/pagemap");
                for (int i = 0; i < count; i++)
                {
                    if ((entries[i] & (PagemapPresent | PagemapSwapped)) != 0)
                        bits[(page + (ulong)i) >> 6] |= 1UL << (int)((page + (ulong)i) & 63);
                }
            }
        }
        if (_image is not null)
        {
            foreach ((ulong start, ulong end) in DataRanges(_image, Layout.TotalSize))
            {
                ulong from = Math.Max(start, imageOffset), to = Math.Min(end, imageOffset + pages * (ulong)PageSize);
                for (ulong at = from & ~((ulong)PageSize - 1); at < to; at += (ulong)PageSize)
                {
                    ulong page = (at - imageOffset) / (ulong)PageSize;
                    bits[page >> 6] |= 1UL << (int)(page & 63);
                }
            }
        }
        return bits;
    }

    // The ranges of the file below `size` that hold data, as SEEK_DATA and SEEK_HOLE find them; a file system that
    // does not know holes reports all of it as data, which costs only time.
    internal static IEnumerable<(ulong Start, ulong End)> DataRanges(SafeFileHandle file, ulong size)
    {
        long at = 0;
        while ((ulong)at < size)
        {
            long data = Libc.Lseek(file, at, Libc.SeekData);
            if (data < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.ENXIO)
                    yield break; // no data past `at`
                throw new IOException($"lseek SEEK_DATA failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
            long hole = Libc.Lseek(file, data, Libc.SeekHole);
            if (hole < 0)
                throw new IOException($"lseek SEEK_HOLE failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            if (hole <= data)
                yield break;
            yield return ((ulong)data, Math.Min((ulong)hole, size));
            at = hole;
        }
    }

    private bool IsZeroPage(int region, ulong page) =>
        // Safety: page < the region's page count, so the page lies inside the region's live mapping.
        !new ReadOnlySpan<byte>(_regionBases[region] + page * (ulong)PageSize, PageSize).ContainsAnyExcept((byte)0);

    // Bytes [offset, +length) of the image's layout (regions one after another), inside one region.
    private ReadOnlySpan<byte> ImageSpan(ulong offset, int length)
    {
        foreach ((GuestMemoryRegion region, int i) in _regions.Select((r, i) => (r, i)))
        {
            if (offset < region.Size)
            {
                if ((ulong)length > region.Size - offset)
                    throw new InvalidOperationException($"image range [0x{offset:x}, +0x{length:x}) crosses a region's end");
                // Safety: [offset, offset + length) lies inside region i's live mapping, checked just above.
                return new ReadOnlySpan<byte>(_regionBases[i] + offset, length);
            }
            offset -= region.Size;
        }
        throw new InvalidOperationException($"image offset past RAM");
    }

    private static void AppendExtentHeader(XxHash128 hash, GuestMemoryExtent extent)
    {
        Span<byte> header = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(header, extent.Offset);
        BinaryPrimitives.WriteUInt64LittleEndian(header[8..], extent.Length);
        hash.Append(header);
    }

    private static void AppendSamplePage(XxHash128 hash, ulong offset, ReadOnlySpan<byte> page)
    {
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(header, offset);
        hash.Append(header);
        hash.Append(page);
    }

    private static void ReadExactly(SafeFileHandle file, Span<byte> buffer, ulong offset, string path)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int read = RandomAccess.Read(file, buffer[done..], (long)offset + done);
            if (read <= 0)
                throw new SnapshotException(SnapshotRefusal.Truncated, $"{path} ends at offset 0x{offset + (ulong)done:x}, inside the guest memory it should hold");
            done += read;
        }
    }
}
