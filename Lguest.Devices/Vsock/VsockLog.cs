using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>The vsock device's log messages (event ids 3500-3599). Guest-supplied text is never logged as is.</summary>
internal static partial class VsockLog
{
    [LoggerMessage(EventId = 3500, Level = LogLevel.Information,
        Message = "{Device}: guest CID {Cid}, hybrid vsock on {Path} (guest connections to host port P go to {Path}_P)")]
    public static partial void Ready(this ILogger logger, string device, ulong cid, string path);

    [LoggerMessage(EventId = 3501, Level = LogLevel.Debug,
        Message = "{Device}: connection host port {LocalPort} - guest port {PeerPort} reset: {Why}")]
    public static partial void ConnectionReset(this ILogger logger, string device, uint localPort, uint peerPort, string why);

    [LoggerMessage(EventId = 3502, Level = LogLevel.Warning,
        Message = "{Device}: dropped a packet not between the guest's CID and the host ({Header}); later ones are dropped silently")]
    public static partial void ForeignAddress(this ILogger logger, string device, string header);

    [LoggerMessage(EventId = 3503, Level = LogLevel.Debug,
        Message = "{Device}: host connection on {Path} refused: {Why}")]
    public static partial void HandshakeRefused(this ILogger logger, string device, string path, string why);

    [LoggerMessage(EventId = 3504, Level = LogLevel.Debug,
        Message = "{Device}: guest connection to host port {Port} refused: cannot connect to {Path}: {Why}")]
    public static partial void UnixConnectFailed(this ILogger logger, string device, uint port, string path, string why);

    [LoggerMessage(EventId = 3505, Level = LogLevel.Warning,
        Message = "{Device}: accepting on {Path} failed and stopped: {Why}")]
    public static partial void AcceptFailed(this ILogger logger, string device, string path, string why);

    [LoggerMessage(EventId = 3506, Level = LogLevel.Information,
        Message = "{Device}: restored from a snapshot: the guest is sent VIRTIO_VSOCK_EVENT_TRANSPORT_RESET ({Outcome})")]
    public static partial void TransportReset(this ILogger logger, string device, string outcome);
}
