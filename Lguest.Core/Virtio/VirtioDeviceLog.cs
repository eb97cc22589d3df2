using Microsoft.Extensions.Logging;

namespace Lguest.Virtio;

/// <summary>Log messages of <see cref="VirtioDevice"/> (event ids 3090-3099, the devices' shared range).</summary>
internal static partial class VirtioDeviceLog
{
    [LoggerMessage(EventId = 3091, Level = LogLevel.Debug,
        Message = "{Device}: configuration write of {Length} byte(s) at {Offset} ignored (no writable field)")]
    public static partial void ConfigWriteIgnored(this ILogger logger, string device, int offset, int length);
}
