using Microsoft.Extensions.Logging;

namespace Lguest.Tests.Support;

/// <summary>An <see cref="ILogger{T}"/> that keeps every entry, to check what is logged and how often.</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    public List<(LogLevel Level, EventId Id, string Message)> Entries { get; } = [];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (Entries)
            Entries.Add((logLevel, eventId, formatter(state, exception)));
    }
}
