using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>The entropy device's log messages (event ids 3400-3499).</summary>
internal static partial class RngLog
{
    [LoggerMessage(EventId = 3400, Level = LogLevel.Trace,
        Message = "{Device}: {Bytes} random byte(s) in {Chains} chain(s)")]
    public static partial void Filled(this ILogger logger, string device, long bytes, int chains);
}
