using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Lguest.Cli;

/// <summary>
/// The command's log line, as the simple console formatter writes it with <c>SingleLine</c> and a
/// <c>HH:mm:ss.fff</c> timestamp, without colours: <c>09:04:43.929 info: Lguest.Machine.Launcher[2107] restored ...</c>.
/// </summary>
/// <remarks>
/// The simple formatter cannot be made without the logging container (it is internal, configured through options the
/// container binds), and building that container in the NativeAOT binary cost more than anything else on the way
/// to a guest's first instruction under <c>-v</c> (its open generic types closed at run time by the type loader: ~30%
/// of the launcher's CPU before a restored guest runs). This formatter plugs into the library's own
/// <see cref="ConsoleLoggerProvider"/>, which keeps its queue and writer thread.
/// </remarks>
internal sealed class SingleLineConsoleFormatter() : ConsoleFormatter(FormatterName)
{
    /// <summary>The name <see cref="ConsoleLoggerOptions.FormatterName"/> chooses it by.</summary>
    public const string FormatterName = "lguest-single-line";

    /// <summary>What a clock reads, for tests; the local time by default (as the simple formatter's).</summary>
    public Func<DateTimeOffset> Now { get; init; } = () => DateTimeOffset.Now;

    /// <inheritdoc />
    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        ArgumentNullException.ThrowIfNull(textWriter);
        string message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (logEntry.Exception is null && message is null)
            return;
        textWriter.Write(Now().ToString("HH:mm:ss.fff ", System.Globalization.CultureInfo.InvariantCulture));
        textWriter.Write(LevelName(logEntry.LogLevel));
        textWriter.Write(": ");
        textWriter.Write(logEntry.Category);
        textWriter.Write('[');
        textWriter.Write(logEntry.EventId.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        textWriter.Write(']');
        if (!string.IsNullOrEmpty(message))
        {
            textWriter.Write(' ');
            textWriter.Write(OneLine(message));
        }
        if (logEntry.Exception is { } exception)
        {
            textWriter.Write(' ');
            textWriter.Write(OneLine(exception.ToString()));
        }
        textWriter.Write(Environment.NewLine);
    }

    // The simple formatter's four-letter names.
    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => level.ToString(),
    };

    private static string OneLine(string text) => text.Replace(Environment.NewLine, " ", StringComparison.Ordinal);
}
