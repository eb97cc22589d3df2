using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>The network device's log messages (event ids 3300-3399).</summary>
internal static partial class NetLog
{
    [LoggerMessage(EventId = 3300, Level = LogLevel.Information,
        Message = "{Device}: tap {Tap} {HostSide}, MTU {Mtu}; the guest's MAC address is {Mac}")]
    public static partial void TapReady(this ILogger logger, string device, string tap, string hostSide, int mtu, MacAddress mac);

    [LoggerMessage(EventId = 3301, Level = LogLevel.Information,
        Message = "{Device}: driver accepted features 0x{Features:x}: tap offloads {Offloads}, {Buffers} receive buffers for frames up to {Limit} bytes")]
    public static partial void Activated(this ILogger logger, string device, ulong features, TunOffloads offloads, string buffers, int limit);

    // The guest can cause drops at will: the first of each kind is a warning, the rest are trace
    // messages (and counted), so a hostile guest cannot flood the host's log.
    [LoggerMessage(EventId = 3302, Message = "{Device}: {Drop}: {Detail}")]
    public static partial void Dropped(this ILogger logger, LogLevel level, string device, VirtioNetDrop drop, string detail);

    [LoggerMessage(EventId = 3303, Level = LogLevel.Information, Message = "{Device}: stopped; {Counters}")]
    public static partial void Stopped(this ILogger logger, string device, VirtioNetCounters counters);

    [LoggerMessage(EventId = 3304, Level = LogLevel.Warning,
        Message = "{Device}: no io_uring for transmit on the vCPUs ({Reason}): each frame is written with its own writev")]
    public static partial void VcpuRingRefused(this ILogger logger, string device, string reason);

    [LoggerMessage(EventId = 3305, Level = LogLevel.Warning,
        Message = "{Device}: the tap takes no RWF_NOWAIT io_uring writes (an older kernel): each frame is written with its own writev")]
    public static partial void NoWaitRefused(this ILogger logger, string device);
}
