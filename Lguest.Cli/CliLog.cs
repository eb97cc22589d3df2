using Microsoft.Extensions.Logging;

namespace Lguest.Cli;

/// <summary>The lguest command's own log messages (event ids 9000-9099, STYLE §8).</summary>
internal static partial class CliLog
{
    [LoggerMessage(EventId = 9001, Level = LogLevel.Information,
        Message = "the kernel arguments name no console=: added {Argument} (COM1, on this terminal)")]
    public static partial void AddedKernelConsole(this ILogger logger, string argument);
}
