using Lguest.Memory;

namespace Lguest.Snapshot;

/// <summary>A snapshot read back and checked (<see cref="SnapshotDirectory.Read"/>): its manifest and its state's sections.</summary>
public sealed class SnapshotContents
{
    internal SnapshotContents(string directory, SnapshotManifest manifest, IReadOnlyList<SnapshotSection> sections)
    {
        Directory = directory;
        Manifest = manifest;
        Sections = sections;
    }

    /// <summary>The snapshot's directory.</summary>
    public string Directory { get; }

    /// <summary>The manifest: versions, checksums, guest RAM's layout and image.</summary>
    public SnapshotManifest Manifest { get; }

    /// <summary>The state file's sections, in order.</summary>
    public IReadOnlyList<SnapshotSection> Sections { get; }

    /// <summary>The section called <paramref name="name"/>.</summary>
    /// <exception cref="SnapshotException">The snapshot has none: it was taken of another machine.</exception>
    public SnapshotSection GetSection(string name) =>
        Sections.FirstOrDefault(s => s.Name == name)
        ?? throw new SnapshotException(SnapshotRefusal.Incompatible, $"the snapshot has no state for '{name}': it was taken of a machine with other devices");

    /// <summary>
    /// Maps guest RAM from the memory file copy-on-write, after checking it against the manifest
    /// (<see cref="GuestMemory.MapImage"/>): by default its length, extents and a sample of its pages, so restore time
    /// does not grow with RAM; <see cref="ImageVerification.Full"/> reads every byte the image holds first.
    /// </summary>
    /// <exception cref="SnapshotException">The memory file is missing, truncated or does not match its checksum.</exception>
    public GuestMemory MapMemory(ImageVerification verification = ImageVerification.Sample)
    {
        string path = Path.Combine(Directory, SnapshotFormat.MemoryFile);
        try
        {
            return GuestMemory.MapImage(Manifest.Layout, path, Manifest.Memory, verification);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SnapshotException(SnapshotRefusal.Truncated, $"{path} is missing: {Directory} is not a complete snapshot", e);
        }
    }
}
