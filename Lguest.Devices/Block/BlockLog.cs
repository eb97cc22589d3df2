using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>The block device's log messages (event ids 3100-3199).</summary>
internal static partial class BlockLog
{
    [LoggerMessage(EventId = 3100, Level = LogLevel.Information,
        Message = "{Device}: {Path}, {Capacity} sectors of 512 bytes{Mode}")]
    public static partial void Opened(this ILogger logger, string device, string path, ulong capacity, string mode);

    // The guest can produce refusals at will: the first of each kind is a warning, the rest are debug
    // messages, so a hostile guest cannot flood the host's log.
    [LoggerMessage(EventId = 3101,
        Message = "{Device}: request type {Type} at sector {Sector} refused with status {Status}: {Reason}")]
    public static partial void RequestRefused(this ILogger logger, LogLevel level, string device, uint type, ulong sector, byte status, string reason);

    [LoggerMessage(EventId = 3102,
        Message = "{Device}: a request without a device-writable status byte is returned unanswered (used length 0)")]
    public static partial void NoStatusByte(this ILogger logger, LogLevel level, string device);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Error,
        Message = "{Device}: host {Operation} at byte {Offset} failed: {Error}; the request fails with VIRTIO_BLK_S_IOERR")]
    public static partial void HostIoFailed(this ILogger logger, string device, string operation, long offset, string error);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Trace,
        Message = "{Device}: request type {Type} sector {Sector}, {Length} data bytes: status {Status}")]
    public static partial void Request(this ILogger logger, string device, uint type, ulong sector, ulong length, byte status);

    [LoggerMessage(EventId = 3105, Level = LogLevel.Warning,
        Message = "{Device}: io_uring is not available ({Error}): requests are served one at a time with blocking calls")]
    public static partial void IoUringUnavailable(this ILogger logger, string device, string error);
}
