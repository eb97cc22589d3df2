using Lguest.Cli;
using Lguest.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lguest.Tests.Cli;

#pragma warning disable CA1848 // plain LogXxx calls, as any library logging through the factory may make

public class DeferredLoggerFactoryTests
{
    /// <summary>A real factory stand-in that counts its builds and keeps what reaches it.</summary>
    private sealed class CountingFactory : ILoggerFactory
    {
        public static int Builds;
        public RecordingLogger<object> Logger { get; } = new();
        public List<ILoggerProvider> Providers { get; } = [];
        public bool Disposed { get; private set; }

        public CountingFactory() => Builds++;

        public ILogger CreateLogger(string categoryName) => Logger;

        public void AddProvider(ILoggerProvider provider) => Providers.Add(provider);

        public void Dispose() => Disposed = true;
    }

    private sealed class DisposableProvider : ILoggerProvider
    {
        public bool Disposed { get; private set; }

        public ILogger CreateLogger(string categoryName) => new RecordingLogger<object>();

        public void Dispose() => Disposed = true;
    }

    private CountingFactory? _built;

    [SetUp]
    public void SetUp() => _built = null;

    private DeferredLoggerFactory Create(LogLevel minimum) =>
        new(minimum, () => _built = new CountingFactory());

    [Test]
    public void Messages_below_the_minimum_build_nothing()
    {
        using DeferredLoggerFactory factory = Create(LogLevel.Warning);
        ILogger logger = factory.CreateLogger("test");
        logger.LogInformation("not wanted");
        logger.LogDebug("not wanted either");
        Assert.That(factory.IsBuilt, Is.False);
        Assert.That(_built, Is.Null);
    }

    [Test]
    public void IsEnabled_answers_from_the_minimum_without_building()
    {
        using DeferredLoggerFactory factory = Create(LogLevel.Warning);
        ILogger logger = factory.CreateLogger("test");
        Assert.That((logger.IsEnabled(LogLevel.Information), logger.IsEnabled(LogLevel.Warning), logger.IsEnabled(LogLevel.None)),
            Is.EqualTo((false, true, false)));
        Assert.That(factory.IsBuilt, Is.False);
    }

    [Test]
    public void The_first_wanted_message_builds_the_real_factory_once_and_reaches_it()
    {
        using DeferredLoggerFactory factory = Create(LogLevel.Warning);
        ILogger first = factory.CreateLogger("first");
        ILogger second = factory.CreateLogger("second");
        int builds = CountingFactory.Builds;
        first.LogWarning("one {Number}", 1);
        second.LogError("two");
        first.LogWarning("three");
        Assert.That(CountingFactory.Builds - builds, Is.EqualTo(1));
        Assert.That(_built!.Logger.Entries.Select(e => (e.Level, e.Message)),
            Is.EqualTo(new[] { (LogLevel.Warning, "one 1"), (LogLevel.Error, "two"), (LogLevel.Warning, "three") }));
    }

    [Test]
    public void Providers_added_before_the_build_are_handed_to_the_real_factory()
    {
        using DeferredLoggerFactory factory = Create(LogLevel.Information);
        var provider = new DisposableProvider();
        factory.AddProvider(provider);
        factory.CreateLogger("test").LogInformation("built now");
        Assert.That(_built!.Providers, Is.EqualTo(new[] { provider }));
    }

    [Test]
    public void Dispose_disposes_the_real_factory_and_later_messages_are_dropped()
    {
        DeferredLoggerFactory factory = Create(LogLevel.Information);
        ILogger logger = factory.CreateLogger("test");
        logger.LogInformation("before");
        factory.Dispose();
        logger.LogInformation("after");
        Assert.That(_built!.Disposed, Is.True);
        Assert.That(_built.Logger.Entries.Select(e => e.Message), Is.EqualTo(new[] { "before" }));
    }

    [Test]
    public void Dispose_without_a_build_builds_nothing_and_releases_added_providers()
    {
        DeferredLoggerFactory factory = Create(LogLevel.Warning);
        var provider = new DisposableProvider();
        factory.AddProvider(provider);
        ILogger logger = factory.CreateLogger("test");
        factory.Dispose();
        logger.LogError("after");
        Assert.That((_built, provider.Disposed), Is.EqualTo(((CountingFactory?)null, true)));
    }

    [Test]
    public void The_commands_container_gives_typed_loggers_without_building_the_console_logger()
    {
        var services = new ServiceCollection();
        RunCommand.AddLogging(services, LogLevel.Warning);
        using ServiceProvider provider = services.BuildServiceProvider();
        ILogger<DeferredLoggerFactoryTests> logger = provider.GetRequiredService<ILogger<DeferredLoggerFactoryTests>>();
        logger.LogInformation("below the minimum");
        Assert.That(logger.IsEnabled(LogLevel.Warning), Is.True);
        Assert.That(((DeferredLoggerFactory)provider.GetRequiredService<ILoggerFactory>()).IsBuilt, Is.False);
    }
}
