using Lguest.Machine;
using Lguest.Snapshot;

namespace Lguest.Cli.Api;

/// <summary>
/// PUT /snapshot/load (Firecracker's SnapshotLoadParams): the guest comes from a snapshot instead of a boot. Its RAM and
/// vCPUs come from the snapshot's directory (<paramref name="SnapshotPath"/>, as PUT /snapshot/create wrote it; the memory
/// file named by <paramref name="MemBackend"/> or <paramref name="MemFilePath"/> is the one inside it); its devices are
/// the ones configured before the load, which must be the snapshot's in the same order (lguest's snapshot does not hold
/// their host side: image paths, taps, sockets).
/// </summary>
/// <param name="SnapshotPath">The snapshot's directory.</param>
/// <param name="MemFilePath">Deprecated by Firecracker: the memory file; exactly one of it and <paramref name="MemBackend"/>.</param>
/// <param name="MemBackend">The memory backend: File only.</param>
/// <param name="EnableDiffSnapshots">Deprecated by Firecracker: dirty page tracking (refused when true).</param>
/// <param name="TrackDirtyPages">Dirty page tracking for diff snapshots (refused when true).</param>
/// <param name="ResumeVm">Run the guest at once; else it stays paused until PATCH /vm Resumed.</param>
/// <param name="NetworkOverrides">Other taps for interfaces configured before the load.</param>
/// <param name="VsockOverride">Another socket for the vsock device configured before the load.</param>
/// <param name="ClockRealtime">Advance kvmclock by the time since the snapshot (refused when true).</param>
internal sealed record SnapshotLoadParams(string SnapshotPath, string? MemFilePath = null, MemoryBackend? MemBackend = null,
    bool EnableDiffSnapshots = false, bool TrackDirtyPages = false, bool ResumeVm = false,
    IReadOnlyList<NetworkOverride>? NetworkOverrides = null, VsockOverride? VsockOverride = null, bool ClockRealtime = false)
{
    /// <summary>
    /// Why the snapshot cannot be loaded as asked, or null: the fields first, then the snapshot itself (read and checked,
    /// nothing mapped), so a missing or damaged one is refused while the machine can still be configured.
    /// </summary>
    public string? Validate()
    {
        if (MemFilePath is not null && MemBackend is not null)
            return "too many fields: either `mem_backend` or `mem_file_path` exclusively is required.";
        if (MemFilePath is null && MemBackend is null)
            return "missing field: either `mem_backend` or `mem_file_path` is required.";
        if (MemBackend is { BackendType: not MemoryBackend.File } backend)
        {
            return backend.BackendType == MemoryBackend.Uffd
                ? "The Uffd memory backend is not supported by lguest: use File."
                : $"Unknown backend_type '{backend.BackendType}': expected File or Uffd.";
        }
        if (EnableDiffSnapshots || TrackDirtyPages)
            return "Dirty page tracking is not supported by lguest.";
        if (ClockRealtime)
            return "clock_realtime is not supported by lguest: kvmclock goes on from the snapshot's time.";
        if (!Directory.Exists(SnapshotPath))
            return $"The snapshot '{SnapshotPath}' is not a directory (lguest's snapshots are the directories PUT /snapshot/create writes).";
        try
        {
            _ = MachineSnapshot.Read(SnapshotPath);
            return null;
        }
        catch (SnapshotException e)
        {
            return $"Cannot load the snapshot: {e.Message}";
        }
    }
}
