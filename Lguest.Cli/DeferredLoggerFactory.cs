using Microsoft.Extensions.Logging;

namespace Lguest.Cli;

/// <summary>
/// The command's logger factory: it answers <see cref="ILogger.IsEnabled"/> from the minimum level alone and
/// builds the real one (the console logger with its options, formatters and writer thread) only when the
/// first message at or above that level arrives. A run that logs nothing before the guest starts (the
/// default, warnings and errors only) no longer builds it on the way to the guest's first instruction:
/// in the NativeAOT binary that took 4-9 ms, most of it the container closing the options' open generic
/// types at run time.
/// </summary>
internal sealed class DeferredLoggerFactory : ILoggerFactory
{
    private readonly LogLevel _minimum;
    private readonly Func<ILoggerFactory> _create;
    private readonly Lock _lock = new();
    private readonly List<ILoggerProvider> _providers = [];
    private ILoggerFactory? _inner;
    private bool _disposed;

    /// <param name="minimum">The least severe level written; everything below is dropped without building anything.</param>
    /// <param name="create">Builds the real factory, at most once, on the first message at or above <paramref name="minimum"/>.</param>
    public DeferredLoggerFactory(LogLevel minimum, Func<ILoggerFactory> create)
    {
        _minimum = minimum;
        _create = create;
    }

    /// <summary>Whether the real factory has been built (a message was logged).</summary>
    public bool IsBuilt
    {
        get
        {
            lock (_lock)
                return _inner is not null;
        }
    }

    public ILogger CreateLogger(string categoryName) => new DeferredLogger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        lock (_lock)
        {
            if (_inner is not null)
                _inner.AddProvider(provider);
            else
                _providers.Add(provider);
        }
    }

    /// <summary>Disposes the real factory if it was built, which writes out what its console logger still queues.</summary>
    public void Dispose()
    {
        ILoggerFactory? inner;
        List<ILoggerProvider> providers;
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            inner = _inner;
            providers = [.. _providers];
            _providers.Clear();
        }
        inner?.Dispose();
        // Providers added but never handed to a real factory are still ours to release, as LoggerFactory would.
        foreach (ILoggerProvider provider in providers)
            provider.Dispose();
    }

    private bool IsEnabled(LogLevel level) => level != LogLevel.None && level >= _minimum && !Volatile.Read(ref _disposed);

    /// <summary>The real factory, built now if need be; null once disposed (late messages are dropped).</summary>
    private ILoggerFactory? Inner()
    {
        lock (_lock)
        {
            if (_disposed)
                return null;
            if (_inner is null)
            {
                _inner = _create();
                foreach (ILoggerProvider provider in _providers)
                    _inner.AddProvider(provider);
                _providers.Clear();
            }
            return _inner;
        }
    }

    private sealed class DeferredLogger(DeferredLoggerFactory factory, string category) : ILogger
    {
        private ILogger? _inner;

        public bool IsEnabled(LogLevel logLevel) => factory.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (factory.IsEnabled(logLevel))
                Inner()?.Log(logLevel, eventId, state, exception, formatter);
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => Inner()?.BeginScope(state);

        private ILogger? Inner()
        {
            ILogger? inner = Volatile.Read(ref _inner);
            if (inner is not null)
                return inner;
            ILogger? created = factory.Inner()?.CreateLogger(category);
            if (created is null)
                return null;
            return Interlocked.CompareExchange(ref _inner, created, null) ?? created;
        }
    }
}
