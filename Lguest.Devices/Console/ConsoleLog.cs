using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>The console's log messages (event ids 3200-3299).</summary>
internal static partial class ConsoleLog
{
    [LoggerMessage(EventId = 3200, Level = LogLevel.Information,
        Message = "{Device}: the host input ended; the guest gets no more input")]
    public static partial void InputEnded(this ILogger logger, string device);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Warning,
        Message = "{Device}: the host output failed ({Error}); the guest's output is dropped from now on")]
    public static partial void OutputFailed(this ILogger logger, string device, string error);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning,
        Message = "{Device}: reading the host input failed ({Error}); the guest gets no more input")]
    public static partial void InputFailed(this ILogger logger, string device, string error);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Trace,
        Message = "{Device}: {Bytes} byte(s) in {Chains} chain(s) {Direction}")]
    public static partial void Moved(this ILogger logger, string device, long bytes, int chains, string direction);
}
