using System.IO.Hashing;
using Lguest.Memory;

namespace Lguest.Snapshot;

/// <summary>
/// The snapshot's table of contents: the format version, the state file's length and checksum, and guest RAM's
/// layout and image (its extents and checksum). Encoded in the manifest file with a checksum of its own; parsing
/// checks every field (it is the first thing a restore reads from a file that may be damaged or forged).
/// </summary>
/// <param name="StateSize">The state file's length in bytes.</param>
/// <param name="StateChecksum">XxHash128 of the whole state file.</param>
/// <param name="Layout">Where guest RAM lies (the machine restored gets the same).</param>
/// <param name="Memory">What the memory file holds.</param>
public sealed record SnapshotManifest(ulong StateSize, UInt128 StateChecksum, GuestMemoryLayout Layout, GuestMemoryImage Memory)
{
    /// <summary>Encodes the manifest: magic, version, body length, body, then XxHash128 of all that.</summary>
    public byte[] Encode()
    {
        var body = new SnapshotStateWriter();
        body.WriteUInt64(StateSize);
        body.WriteUInt128(StateChecksum);
        body.WriteUInt32((uint)Layout.Regions.Count);
        foreach (GuestMemoryRegion region in Layout.Regions)
        {
            body.WriteUInt64(region.Start.Value);
            body.WriteUInt64(region.Size);
        }
        body.WriteUInt64(Layout.MmioWindow.Start.Value);
        body.WriteUInt64(Layout.MmioWindow.Size);
        body.WriteUInt64(Memory.Size);
        body.WriteUInt128(Memory.Checksum);
        body.WriteUInt128(Memory.SampleChecksum);
        body.WriteUInt32((uint)Memory.Extents.Count);
        foreach (GuestMemoryExtent extent in Memory.Extents)
        {
            body.WriteUInt64(extent.Offset);
            body.WriteUInt64(extent.Length);
        }

        var file = new SnapshotStateWriter();
        file.WriteRaw(SnapshotFormat.ManifestMagic);
        file.WriteUInt16(SnapshotFormat.Version);
        file.WriteUInt16(0); // reserved
        file.WriteBytes(body.WrittenSpan);
        file.WriteUInt128(XxHash128.HashToUInt128(file.WrittenSpan));
        return file.ToArray();
    }

    /// <summary>Parses a manifest file's bytes, refusing anything that is not one this build wrote.</summary>
    /// <exception cref="SnapshotException">Not a manifest, another format version, truncated, damaged or inconsistent.</exception>
    public static SnapshotManifest Parse(ReadOnlyMemory<byte> bytes)
    {
        ReadOnlySpan<byte> magic = SnapshotFormat.ManifestMagic;
        if (bytes.Length < magic.Length || !bytes.Span[..magic.Length].SequenceEqual(magic))
            throw new SnapshotException(SnapshotRefusal.Corrupt, "the manifest is not a lguest snapshot manifest (wrong magic)");
        var file = new SnapshotStateReader(bytes[magic.Length..], "the manifest");
        ushort version = file.ReadUInt16();
        if (version != SnapshotFormat.Version)
            throw new SnapshotException(SnapshotRefusal.Version,
                $"the snapshot is in format version {version}; this lguest reads version {SnapshotFormat.Version} only");
        _ = file.ReadUInt16();
        ReadOnlyMemory<byte> bodyBytes = file.ReadBytes(SnapshotFormat.MaxManifestSize);
        int covered = bytes.Length - file.Remaining;
        UInt128 checksum = file.ReadUInt128();
        file.RequireEnd();
        if (XxHash128.HashToUInt128(bytes.Span[..covered]) != checksum)
            throw new SnapshotException(SnapshotRefusal.Corrupt, "the manifest does not match its checksum");

        var body = new SnapshotStateReader(bodyBytes, "the manifest");
        ulong stateSize = body.ReadUInt64();
        UInt128 stateChecksum = body.ReadUInt128();
        int regionCount = body.ReadCount(SnapshotFormat.MaxRegions, "RAM regions");
        var regions = new List<GuestMemoryRegion>(regionCount);
        for (int i = 0; i < regionCount; i++)
            regions.Add(ReadRegion(body, $"RAM region {i}"));
        GuestMemoryRegion window = ReadRegion(body, "the MMIO window");
        GuestMemoryLayout layout;
        try
        {
            layout = new GuestMemoryLayout(regions, window);
        }
        catch (ArgumentException e)
        {
            throw body.Corrupt(e.Message);
        }
        ulong memorySize = body.ReadUInt64();
        UInt128 memoryChecksum = body.ReadUInt128();
        UInt128 sampleChecksum = body.ReadUInt128();
        int extentCount = body.ReadCount(GuestMemoryImage.MaxExtents, "memory extents");
        if ((long)extentCount * 16 > body.Remaining)
            throw body.Corrupt($"{extentCount} memory extents do not fit in {body.Remaining} bytes");
        var extents = new GuestMemoryExtent[extentCount];
        for (int i = 0; i < extentCount; i++)
            extents[i] = new GuestMemoryExtent(body.ReadUInt64(), body.ReadUInt64());
        body.RequireEnd();
        if (memorySize != layout.TotalSize)
            throw body.Corrupt($"the memory image holds {memorySize} bytes; the layout's RAM is {layout.TotalSize}");
        var image = new GuestMemoryImage(memorySize, extents, memoryChecksum, sampleChecksum);
        GuestMemory.CheckExtents(image);
        return new SnapshotManifest(stateSize, stateChecksum, layout, image);
    }

    private static GuestMemoryRegion ReadRegion(SnapshotStateReader body, string what)
    {
        ulong start = body.ReadUInt64(), size = body.ReadUInt64();
        if (start + size < start)
            throw body.Corrupt($"{what} [0x{start:x}, +0x{size:x}) wraps past 2^64");
        return new GuestMemoryRegion(new GuestAddress(start), size);
    }
}
