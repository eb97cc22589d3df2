namespace Lguest.Snapshot;

/// <summary>Why a snapshot was refused (<see cref="SnapshotException.Reason"/>).</summary>
public enum SnapshotRefusal
{
    /// <summary>The backend (or a device) cannot take part in snapshots.</summary>
    NotSupported,

    /// <summary>A file of the snapshot is missing or shorter than its manifest says.</summary>
    Truncated,

    /// <summary>A checksum does not match, or a structure inside is malformed.</summary>
    Corrupt,

    /// <summary>The snapshot was written in a format version this build does not read.</summary>
    Version,

    /// <summary>This host cannot run what the snapshot needs (a CPU feature, a TSC frequency, a device).</summary>
    Incompatible,
}
