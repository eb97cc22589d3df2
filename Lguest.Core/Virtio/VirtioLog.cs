using Microsoft.Extensions.Logging;

namespace Lguest.Virtio;

/// <summary>The virtio transport's log messages (event ids 3000-3049).</summary>
internal static partial class VirtioLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning,
        Message = "{Device}: bad driver: {What}; the device needs a reset (DEVICE_NEEDS_RESET)")]
    public static partial void BadDriver(this ILogger logger, string device, string what);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information,
        Message = "{Device}: features 0x{Accepted:x} refused (offered 0x{Offered:x}); FEATURES_OK stays clear")]
    public static partial void FeaturesRefused(this ILogger logger, string device, ulong accepted, ulong offered);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Debug,
        Message = "{Device}: DRIVER_OK with features 0x{Features:x}, {Queues} queue(s) enabled, {NotifyEvents} notify event(s) in the hypervisor")]
    public static partial void Activated(this ILogger logger, string device, ulong features, int queues, int notifyEvents);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Debug,
        Message = "{Device}: reset by the driver")]
    public static partial void DeviceReset(this ILogger logger, string device);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information,
        Message = "{Device}: the driver set FAILED; it gave up on the device")]
    public static partial void DriverFailed(this ILogger logger, string device);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning,
        Message = "{Device}: the hypervisor refused a notify event for queue {Queue} at {Address} ({Reason}); its notifications take a vCPU exit")]
    public static partial void NotifyEventRefused(this ILogger logger, string device, int queue, Lguest.Memory.GuestAddress address, string reason);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Error,
        Message = "{Device}: device failed: {What}; the device needs a reset (DEVICE_NEEDS_RESET)")]
    public static partial void DeviceFailed(this ILogger logger, string device, string what, Exception? exception);
}
