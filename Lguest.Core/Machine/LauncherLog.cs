using Microsoft.Extensions.Logging;

namespace Lguest.Machine;

internal static partial class LauncherLog
{
    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "booting {MemoryMiB} MiB, {Cpus} vCPU(s) on {Backend} ({Machine} machine): entry {Entry} ({Mode})")]
    public static partial void Booting(this ILogger logger, ulong memoryMiB, int cpus, string backend, string machine, string entry, string mode);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "first guest instruction {Milliseconds:F1} ms after process start")]
    public static partial void FirstEntry(this ILogger logger, double milliseconds);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Information, Message = "the guest asked for a reset: rebooting")]
    public static partial void Rebooting(this ILogger logger);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Information, Message = "guest stopped: {Kind}: {Message}")]
    public static partial void Stopped(this ILogger logger, GuestExitKind kind, string message);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Debug, Message = "unclaimed {Bus} {Direction} at 0x{Address:x}, width {Width}")]
    public static partial void Unclaimed(this ILogger logger, string bus, string direction, ulong address, int width);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Error, Message = "a handler of the launcher's {Event} event failed; the machine goes on")]
    public static partial void HandlerFailed(this ILogger logger, string @event, Exception exception);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Information, Message = "snapshot written to {Directory}: {DataMiB} MiB of {MemoryMiB} MiB of RAM in the image, {Milliseconds:F1} ms ({StateMilliseconds:F1} ms for the vCPUs' and devices' state, the rest writing and syncing the files)")]
    public static partial void SnapshotWritten(this ILogger logger, string directory, ulong dataMiB, ulong memoryMiB, double milliseconds, double stateMilliseconds);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Information, Message = "restored {Directory}: {MemoryMiB} MiB, {Cpus} vCPU(s) on {Backend} in {Milliseconds:F1} ms ({MapMilliseconds:F1} ms checking {Checked} of the {DataMiB} MiB memory image, mapping it and building the devices)")]
    public static partial void Restored(this ILogger logger, string directory, ulong memoryMiB, int cpus, string backend, double milliseconds, double mapMilliseconds, string @checked, ulong dataMiB);

    [LoggerMessage(EventId = 2108, Level = LogLevel.Warning, Message = "paused with the guest's serial output not yet all written to the host after {Seconds} s (a stopped terminal?): it follows when the host takes it")]
    public static partial void ConsoleBehind(this ILogger logger, double seconds);
}
