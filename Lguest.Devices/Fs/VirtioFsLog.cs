using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>The shared-folder device's log messages (event ids 3600-3699).</summary>
internal static partial class VirtioFsLog
{
    [LoggerMessage(EventId = 3600, Level = LogLevel.Information,
        Message = "{Device}: sharing '{Folder}' as tag '{Tag}'{ReadOnly}")]
    public static partial void Sharing(this ILogger logger, string device, string folder, string tag, string readOnly);

    [LoggerMessage(EventId = 3601, Level = LogLevel.Warning,
        Message = "{Device}: the guest holds {Count} nodes, the cap (VirtioFsOptions.MaxInodes); lookups fail with ENFILE until it forgets some")]
    public static partial void InodeCapReached(this ILogger logger, string device, int count);

    [LoggerMessage(EventId = 3602, Level = LogLevel.Warning,
        Message = "{Device}: the guest has {Count} files open, the cap (VirtioFsOptions.MaxHandles); opens fail with EMFILE until it closes some")]
    public static partial void HandleCapReached(this ILogger logger, string device, int count);

    [LoggerMessage(EventId = 3607, Level = LogLevel.Warning,
        Message = "{Device}: the process may open only {Limit} files (RLIMIT_NOFILE, and it could not be raised), fewer than MaxInodes {Inodes} plus MaxHandles {Handles}: the guest may see EMFILE before the caps")]
    public static partial void DescriptorLimitLow(this ILogger logger, string device, long limit, int inodes, int handles);

    [LoggerMessage(EventId = 3603, Level = LogLevel.Information,
        Message = "{Device}: FUSE {Major}.{Minor} negotiated (the guest offered {GuestMajor}.{GuestMinor}), flags 0x{Flags:x}")]
    public static partial void Initialized(this ILogger logger, string device, uint major, uint minor, uint guestMajor, uint guestMinor, uint flags);

    [LoggerMessage(EventId = 3604, Level = LogLevel.Warning,
        Message = "{Device}: the guest's FUSE {Major}.{Minor} is older than 7.31; INIT refused with EPROTO")]
    public static partial void VersionRefused(this ILogger logger, string device, uint major, uint minor);

    [LoggerMessage(EventId = 3605, Level = LogLevel.Trace,
        Message = "{Device}: {Opcode} node {Node} -> {Error}")]
    public static partial void Request(this ILogger logger, string device, uint opcode, ulong node, int error);

    [LoggerMessage(EventId = 3606, Level = LogLevel.Debug,
        Message = "{Device}: {Opcode} refused: {Reason}")]
    public static partial void Refused(this ILogger logger, string device, uint opcode, string reason);

    [LoggerMessage(EventId = 3607, Level = LogLevel.Information,
        Message = "{Device}: restored from a snapshot: {Nodes} of {SnapshotNodes} nodes and {Handles} of {SnapshotHandles} open files found again in the share")]
    public static partial void Restored(this ILogger logger, string device, int nodes, int snapshotNodes, int handles, int snapshotHandles);

    [LoggerMessage(EventId = 3608, Level = LogLevel.Information,
        Message = "{Device}: a snapshot leaves out node {Node}: {Why} (the guest's next use of it fails)")]
    public static partial void NodeLeftOut(this ILogger logger, string device, ulong node, string why);
}
