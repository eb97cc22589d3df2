using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>Log messages shared by every device of this assembly (event ids 3090-3099).</summary>
internal static partial class DeviceLog
{
    [LoggerMessage(EventId = 3090, Level = LogLevel.Error,
        Message = "{Device}: worker {Worker} failed and stopped; the device no longer serves that queue")]
    public static partial void WorkerFailed(this ILogger logger, string device, string worker, Exception exception);

    [LoggerMessage(EventId = 3091, Level = LogLevel.Debug,
        Message = "{Device}: configuration write of {Length} byte(s) at {Offset} ignored (no writable field)")]
    public static partial void ConfigWriteIgnored(this ILogger logger, string device, int offset, int length);
}
