using Lguest.Cli;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Tests.Cli;

/// <summary>The command's log lines under -v: what scripts grep ("restored ... in N ms"), one line per message.</summary>
public class SingleLineConsoleFormatterTests
{
    private static readonly DateTimeOffset Noon = new(2026, 12, 7, 9, 4, 43, 929, TimeSpan.Zero);

    private static string Format(LogLevel level, string message, Exception? exception = null)
    {
        var formatter = new SingleLineConsoleFormatter { Now = () => Noon };
        using var writer = new StringWriter();
        formatter.Write(new LogEntry<string>(level, "Lguest.Machine.Launcher", new EventId(2107), message, exception, (s, _) => s), null, writer);
        return writer.ToString();
    }

    [Test]
    public void A_message_is_one_line_as_the_simple_formatter_writes_it_with_single_line_and_a_timestamp()
    {
        Assert.That(Format(LogLevel.Information, "restored /tmp/snap: 256 MiB in 12.5 ms"),
            Is.EqualTo("09:04:43.929 info: Lguest.Machine.Launcher[2107] restored /tmp/snap: 256 MiB in 12.5 ms" + Environment.NewLine));
        Assert.That(Format(LogLevel.Warning, "w"), Does.StartWith("09:04:43.929 warn: "));
        Assert.That(Format(LogLevel.Error, "e"), Does.StartWith("09:04:43.929 fail: "));
    }

    [Test]
    public void Line_breaks_in_a_message_or_its_exception_stay_on_the_line()
    {
        string line = Format(LogLevel.Error, "first" + Environment.NewLine + "second", new InvalidOperationException("boom"));
        Assert.That(line, Does.StartWith("09:04:43.929 fail: Lguest.Machine.Launcher[2107] first second System.InvalidOperationException: boom"));
        Assert.That(line.TrimEnd().Contains('\n', StringComparison.Ordinal), Is.False);
    }

    [Test]
    [NonParallelizable] // it takes Console.Error for a moment
    public void The_commands_console_logger_writes_its_last_line_to_stderr_when_disposed_at_and_above_its_minimum()
    {
        TextWriter error = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            ILoggerFactory factory = RunCommand.CreateConsoleLoggerFactory(LogLevel.Warning);
            ILogger logger = factory.CreateLogger("Lguest.Test");
            Assert.That((logger.IsEnabled(LogLevel.Information), logger.IsEnabled(LogLevel.Warning)), Is.EqualTo((false, true)));
            logger.Log(LogLevel.Information, new EventId(1), "below", null, (s, _) => s);
            logger.Log(LogLevel.Warning, new EventId(2), "the run's last line", null, (s, _) => s);
            // Disposing writes out the queue: the run's end loses nothing.
            factory.Dispose();
        }
        finally
        {
            Console.SetError(error);
        }
        Assert.That(captured.ToString(), Does.Match(@"^\d\d:\d\d:\d\d\.\d{3} warn: Lguest\.Test\[2\] the run's last line\r?\n$"));
    }
}
