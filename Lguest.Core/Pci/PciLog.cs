using Microsoft.Extensions.Logging;

namespace Lguest.Pci;

/// <summary>The PCI bus's log messages (event ids 3050-3069).</summary>
internal static partial class PciLog
{
    [LoggerMessage(EventId = 3050, Level = LogLevel.Debug,
        Message = "PCI 00:{Slot:x2}.0 {Device}; INTx# GSI {Gsi}")]
    public static partial void DeviceAdded(this ILogger logger, int slot, PciDevice device, int gsi);

    [LoggerMessage(EventId = 3051, Level = LogLevel.Debug,
        Message = "PCI 00:{Device:x2}.0 {Name}: {Bar}")]
    public static partial void BarMapped(this ILogger logger, int device, string name, PciBar bar);

    [LoggerMessage(EventId = 3052, Level = LogLevel.Debug,
        Message = "PCI 00:{Device:x2}.0 {Name}: BAR{Bar} not decoded: {Reason}")]
    public static partial void BarNotDecoded(this ILogger logger, int device, string name, int bar, string reason);
}
