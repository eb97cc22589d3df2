namespace Lguest.Snapshot;

/// <summary>The snapshot directory's format: its files, magic numbers, version and limits (README.md beside this file).</summary>
public static class SnapshotFormat
{
    /// <summary>
    /// The format version this build writes and the only one it reads; any change to a file's layout bumps it (2: the
    /// manifest carries the memory image's sample checksum).
    /// </summary>
    public const ushort Version = 2;

    /// <summary>The manifest: written last, so a snapshot without one was never finished.</summary>
    public const string ManifestFile = "manifest";

    /// <summary>The state file: every record (vCPUs, VM, devices) as a named section.</summary>
    public const string StateFile = "state";

    /// <summary>Guest RAM as a sparse image (<see cref="Memory.GuestMemoryImage"/>).</summary>
    public const string MemoryFile = "memory";

    /// <summary>The manifest's first 8 bytes.</summary>
    public static ReadOnlySpan<byte> ManifestMagic => "LGSNAPMF"u8;

    /// <summary>The state file's first 8 bytes.</summary>
    public static ReadOnlySpan<byte> StateMagic => "LGSNAPST"u8;

    /// <summary>The largest manifest read: its extents are 16 bytes each, and <see cref="Memory.GuestMemoryImage.MaxExtents"/> bound them.</summary>
    public const int MaxManifestSize = 64 + 16 * Memory.GuestMemoryImage.MaxExtents + 16 * MaxRegions;

    /// <summary>The most RAM regions a manifest may describe (a PC has two, below and above its MMIO hole).</summary>
    public const int MaxRegions = 16;

    /// <summary>The most sections a state file may hold: vCPUs, the VM, and every device's records, with room.</summary>
    public const int MaxSections = 4096;

    /// <summary>The largest section: 16 MiB, past any device's or vCPU's state (an XSAVE image is at most 64 KiB).</summary>
    public const int MaxSectionSize = 16 << 20;

    /// <summary>The largest state file read: every section at its largest would not fit, and need not.</summary>
    public const int MaxStateSize = 256 << 20;

    /// <summary>
    /// Whether <paramref name="name"/> may name a section: 1 to 128 characters of ASCII letters, digits and
    /// "/_.:-", so it reads well in a message and cannot carry control characters into one.
    /// </summary>
    public static bool IsValidSectionName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 128 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '_' or '.' or ':' or '-');
}
