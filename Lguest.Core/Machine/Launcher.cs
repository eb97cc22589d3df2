using System.Diagnostics;
using Lguest.Hypervisor;
using Lguest.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Machine;

/// <summary>
/// Runs a guest: builds the machine its <see cref="MachineProfile"/> describes around a backend (buses, PCI,
/// the platform's devices: a PC's UART, RTC and ACPI, or the lguest machine's few), loads the boot image for
/// that platform, runs one thread per vCPU dispatching their I/O to the buses, and handles the guest's power
/// requests: power-off ends the run, reset boots it again with the same arguments (fresh memory, devices and
/// vCPUs) unless <see cref="LauncherOptions.NoReboot"/>, a triple fault or failure ends it with the reason.
/// Backend-neutral: KVM and /dev/lguest look the same from here.
/// </summary>
public sealed class Launcher : IDisposable
{
    private readonly IHypervisor _hypervisor;
    private readonly MachineProfile _profile;
    private readonly IBootImage _image;
    private readonly IPlatformDeviceFactory[] _factories;
    private readonly LauncherOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly SerialConsole? _console;
    private readonly Lock _runLock = new();
    private MachineSession? _current;
    private bool _firstEntryLogged;
    private bool _firstRunDone;
    private readonly DateTime? _processStart;

    /// <summary>Creates a launcher.</summary>
    /// <param name="hypervisor">The backend.</param>
    /// <param name="image">What each boot loads.</param>
    /// <param name="options">The machine's size and behaviour.</param>
    /// <param name="factories">Devices added to each boot, in order (PCI slots follow it).</param>
    /// <param name="loggerFactory">Where the launcher and devices log.</param>
    /// <param name="profile">The machine the backend runs: <see cref="MachineProfile.Pc"/> (the default) for KVM, <see cref="MachineProfile.Lguest"/> for /dev/lguest.</param>
    /// <exception cref="ArgumentException">An option is invalid, or the machine cannot have that many vCPUs.</exception>
    public Launcher(IHypervisor hypervisor, IBootImage image, LauncherOptions options,
        IEnumerable<IPlatformDeviceFactory>? factories = null, ILoggerFactory? loggerFactory = null, MachineProfile? profile = null)
    {
        ArgumentNullException.ThrowIfNull(hypervisor);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _profile = profile ?? MachineProfile.Pc;
        if (options.CpuCount > _profile.MaxCpus)
            throw new ArgumentException($"the {_profile.Name} machine has at most {_profile.MaxCpus} vCPU(s), not {options.CpuCount}", nameof(options));
        _hypervisor = hypervisor;
        _image = image;
        _options = options;
        _factories = factories?.ToArray() ?? [];
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<Launcher>();
        // Read now, and only if it will be logged (System.Diagnostics.Process and /proc cost ~0.2 ms of start-up).
        _processStart = _logger.IsEnabled(LogLevel.Information) ? ProcessStartTime() : null;
        if (options.ConsoleInput is not null)
            _console = new SerialConsole(options.ConsoleInput);
    }

    /// <summary>The machine every boot builds.</summary>
    public MachineProfile Profile => _profile;

    /// <summary>The guest memory layout every boot gets, as the machine lays it out.</summary>
    public GuestMemoryLayout Layout => _profile.CreateLayout(_options.MemoryBytes);

    /// <summary>
    /// Boots the guest and runs it until it powers off, fails, or <paramref name="cancellation"/> fires
    /// (then it is stopped and <see cref="GuestExitKind.Stopped"/> returned).
    /// </summary>
    /// <exception cref="LguestException">The machine could not be built: the backend refused, the image does not load.</exception>
    /// <remarks>Any exception from <see cref="LauncherOptions.BeforeFirstRun"/> is thrown here too, before the guest runs.</remarks>
    public GuestExit Run(CancellationToken cancellation = default)
    {
        while (true)
        {
            GuestExit exit;
            using (var session = new MachineSession(_hypervisor, _profile, Layout, _options, _factories, _loggerFactory, _console))
            {
                lock (_runLock)
                    _current = session;
                try
                {
                    session.Build(_image);
                    if (!_firstRunDone)
                    {
                        // Everything the guest will ever need from the host is open now: confine the process.
                        _firstRunDone = true;
                        _options.BeforeFirstRun?.Invoke();
                    }
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
        if (_logger.IsEnabled(LogLevel.Information) && _processStart is { } start)
            _logger.FirstEntry((DateTime.Now - start).TotalMilliseconds);
    }

    // Read in the constructor: by the first entry the process may have chrooted away from /proc.
    private static DateTime? ProcessStartTime()
    {
        try
        {
            using var self = Process.GetCurrentProcess();
            return self.StartTime;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>Stops the console input.</summary>
    public void Dispose() => _console?.Dispose();
}
