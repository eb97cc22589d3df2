using System.Diagnostics;
using Lguest.Hypervisor;
using Lguest.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Machine;

/// <summary>
/// Runs a guest: builds the PC platform around a backend (buses, UART, RTC, ACPI, PCI), loads the
/// boot image, runs one thread per vCPU dispatching their I/O to the buses, and handles the guest's
/// power requests: power-off ends the run, reset boots it again (fresh memory, devices and vCPUs)
/// unless <see cref="LauncherOptions.NoReboot"/>, a triple fault or failure ends it with the reason.
/// Backend-neutral: KVM and /dev/lguest look the same from here.
/// </summary>
public sealed class Launcher : IDisposable
{
    private readonly IHypervisor _hypervisor;
    private readonly IBootImage _image;
    private readonly IPlatformDeviceFactory[] _factories;
    private readonly LauncherOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly SerialConsole? _console;
    private readonly Lock _runLock = new();
    private MachineSession? _current;
    private bool _firstEntryLogged;

    /// <summary>Creates a launcher.</summary>
    public Launcher(IHypervisor hypervisor, IBootImage image, LauncherOptions options,
        IEnumerable<IPlatformDeviceFactory>? factories = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(hypervisor);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _hypervisor = hypervisor;
        _image = image;
        _options = options;
        _factories = factories?.ToArray() ?? [];
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<Launcher>();
        if (options.ConsoleInput is not null)
            _console = new SerialConsole(options.ConsoleInput);
    }

    /// <summary>The guest memory layout every boot gets: RAM with a PC MMIO hole below 4 GiB.</summary>
    public GuestMemoryLayout Layout => GuestMemoryLayout.WithMmioHole(_options.MemoryBytes);

    /// <summary>
    /// Boots the guest and runs it until it powers off, fails, or <paramref name="cancellation"/> fires
    /// (then it is stopped and <see cref="GuestExitKind.Stopped"/> returned).
    /// </summary>
    /// <exception cref="LguestException">The machine could not be built: the backend refused, the image does not load.</exception>
    public GuestExit Run(CancellationToken cancellation = default)
    {
        while (true)
        {
            GuestExit exit;
            using (var session = new MachineSession(_hypervisor, Layout, _options, _factories, _loggerFactory, _console))
            {
                lock (_runLock)
                    _current = session;
                try
                {
                    session.Build(_image);
                    if (!_firstEntryLogged)
                    {
                        _firstEntryLogged = true;
                        session.FirstEntry = LogFirstEntry;
                    }
                    exit = session.Run(cancellation);
                }
                finally
                {
                    lock (_runLock)
                        _current = null;
                }
            }
            _logger.Stopped(exit.Kind, exit.Message);
            if (exit.Kind == GuestExitKind.Reset && !_options.NoReboot && !cancellation.IsCancellationRequested)
            {
                _logger.Rebooting();
                continue;
            }
            return exit;
        }
    }

    /// <summary>Stops a running guest from any thread; <see cref="Run"/> returns <see cref="GuestExitKind.Stopped"/>.</summary>
    public void Stop(string reason)
    {
        lock (_runLock)
            _current?.Stop(new GuestExit(GuestExitKind.Stopped, reason));
    }

    private void LogFirstEntry()
    {
        if (!_logger.IsEnabled(LogLevel.Information))
            return;
        using var self = Process.GetCurrentProcess();
        _logger.FirstEntry((DateTime.Now - self.StartTime).TotalMilliseconds);
    }

    /// <summary>Stops the console input.</summary>
    public void Dispose() => _console?.Dispose();
}
