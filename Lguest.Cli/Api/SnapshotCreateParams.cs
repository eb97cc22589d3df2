namespace Lguest.Cli.Api;

/// <summary>
/// PUT /snapshot/create (Firecracker's SnapshotCreateParams): a snapshot of the paused guest. lguest's snapshot is one
/// directory (the state, guest RAM's image and the manifest that checks them together), written at
/// <paramref name="SnapshotPath"/>; <paramref name="MemFilePath"/> is required as in Firecracker's schema, and nothing is
/// written there: RAM is in the directory.
/// </summary>
/// <param name="SnapshotPath">The snapshot's directory (created if missing; a snapshot there is replaced).</param>
/// <param name="MemFilePath">Firecracker's memory file: accepted, not written.</param>
/// <param name="SnapshotType">"Full" (the default) or "Diff", which lguest refuses.</param>
internal sealed record SnapshotCreateParams(string SnapshotPath, string MemFilePath, string? SnapshotType = null)
{
    /// <summary>Why the snapshot cannot be taken as asked, or null.</summary>
    public string? Validate() => SnapshotType switch
    {
        "Diff" => "Diff snapshots are not supported by lguest: its snapshots are full.",
        not (null or "Full") => $"Unknown snapshot_type '{SnapshotType}': expected Full or Diff.",
        _ when SnapshotPath.Length == 0 => "The snapshot_path is empty.",
        _ => null,
    };
}
