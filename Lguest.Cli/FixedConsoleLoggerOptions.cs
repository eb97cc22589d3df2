using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Lguest.Cli;

/// <summary>The command's console logger options, which never change: the logger is built without the options container.</summary>
internal sealed class FixedConsoleLoggerOptions(ConsoleLoggerOptions value) : IOptionsMonitor<ConsoleLoggerOptions>
{
    /// <inheritdoc />
    public ConsoleLoggerOptions CurrentValue => value;

    /// <inheritdoc />
    public ConsoleLoggerOptions Get(string? name) => value;

    /// <summary>Nothing ever changes: no listener is kept.</summary>
    public IDisposable? OnChange(Action<ConsoleLoggerOptions, string?> listener) => null;
}
