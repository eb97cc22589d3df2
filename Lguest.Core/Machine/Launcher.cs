using System.Diagnostics;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Snapshot;
using Lguest.Terminal;
using Lguest.Virtio;
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
/// <remarks>
/// <para>
/// One launcher runs one machine once: <see cref="Run"/> (or <see cref="RunAsync"/>) moves <see cref="State"/>
/// from <see cref="MachineState.Configured"/> through <see cref="MachineState.Booting"/> and
/// <see cref="MachineState.Running"/> (again for each reboot) to <see cref="MachineState.Stopped"/>, and
/// <see cref="Exit"/> then says how it ended. <see cref="Stop"/> works at any time from any thread: before the run
/// (the run then ends at once, booting nothing), while a boot is built, while it runs or is paused, between reboots.
/// </para>
/// <para>
/// A running machine can be paused (<see cref="PauseAsync"/>: every vCPU parked outside the guest, every device
/// quiescent) and resumed (<see cref="ResumeAsync"/>), and asked to shut down in order (<see cref="RequestShutdown"/>,
/// the ACPI power button). An operation the state does not allow throws <see cref="MachineStateException"/>.
/// </para>
/// <para>
/// Events are raised on the thread where the change happens (the thread running <see cref="Run"/>, a vCPU, a
/// device worker): a handler must be quick and must not wait for the run. An exception from a handler is logged
/// and does not reach the machine.
/// </para>
/// </remarks>
public sealed partial class Launcher : IDisposable
{
    private readonly HypervisorBackend _backend;
    private readonly IBootImage? _image;
    private readonly IPlatformDeviceFactory[] _factories;
    private readonly LauncherOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly SerialConsole? _serialInput;
    private readonly Lock _lock = new();
    private readonly DateTime? _processStart;
    private readonly SemaphoreSlim _control = new(1, 1); // one pause or resume at a time
    private MachineBoot? _current;
    private GuestExit? _stopRequest;
    private GuestExit? _exit;
    private MachineState _state = MachineState.Configured;
    private bool _started;
    private int _boots;
    private SnapshotContents? _restoring;

    /// <summary>Creates a launcher on a hypervisor already open (its owner closes it); the public way is a <see cref="HypervisorBackend"/> over it.</summary>
    /// <param name="hypervisor">The backend.</param>
    /// <param name="image">What each boot loads; null only with <see cref="LauncherOptions.RestoreFrom"/>.</param>
    /// <param name="options">The machine's size and behaviour.</param>
    /// <param name="factories">Devices added to each boot, in order (PCI slots follow it).</param>
    /// <param name="loggerFactory">Where the launcher and devices log.</param>
    /// <param name="profile">The machine the backend runs: <see cref="MachineProfile.Pc"/> (the default) for KVM, <see cref="MachineProfile.Lguest"/> for /dev/lguest.</param>
    /// <exception cref="ArgumentException">An option is invalid, or the machine cannot have that many vCPUs.</exception>
    internal Launcher(IHypervisor hypervisor, IBootImage? image, LauncherOptions options,
        IEnumerable<IPlatformDeviceFactory>? factories = null, ILoggerFactory? loggerFactory = null, MachineProfile? profile = null)
        : this(new HypervisorBackend(hypervisor, profile ?? MachineProfile.Pc), image, options, factories, loggerFactory)
    {
    }

    /// <summary>Creates a launcher on a backend that opens when the machine starts (as the container composes it).</summary>
    /// <param name="backend">The backend and the machine it runs.</param>
    /// <param name="image">What each boot loads; null only with <see cref="LauncherOptions.RestoreFrom"/>.</param>
    /// <param name="options">The machine's size and behaviour.</param>
    /// <param name="factories">Devices added to each boot, in order (PCI slots follow it).</param>
    /// <param name="loggerFactory">Where the launcher and devices log.</param>
    /// <exception cref="ArgumentException">An option is invalid, or the machine cannot have that many vCPUs.</exception>
    public Launcher(HypervisorBackend backend, IBootImage? image, LauncherOptions options,
        IEnumerable<IPlatformDeviceFactory>? factories = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (image is null && options.RestoreFrom is null)
            throw new ArgumentNullException(nameof(image), "a launcher boots an image unless it restores a snapshot (LauncherOptions.RestoreFrom)");
        if (options.CpuCount > backend.Profile.MaxCpus)
            throw new ArgumentException($"the {backend.Profile.Name} machine has at most {backend.Profile.MaxCpus} vCPU(s), not {options.CpuCount}", nameof(options));
        _backend = backend;
        _image = image;
        _options = options;
        _factories = factories?.ToArray() ?? [];
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<Launcher>();
        // Read now, and only if it will be logged (System.Diagnostics.Process and /proc cost ~0.2 ms of start-up).
        _processStart = _logger.IsEnabled(LogLevel.Information) ? ProcessStartTime() : null;
        if (options.ConsoleInput is { } input && input != Stream.Null)
            _serialInput = new SerialConsole(input);
    }

    /// <summary>The machine changed state (see <see cref="MachineState"/>).</summary>
    public event EventHandler<MachineStateChangedEventArgs>? StateChanged;

    /// <summary>A boot's vCPUs started: the first boot, and each reboot.</summary>
    public event EventHandler<GuestBootedEventArgs>? Booted;

    /// <summary>The run ended; raised once, just before <see cref="Run"/> returns the same exit.</summary>
    public event EventHandler<GuestExitedEventArgs>? Exited;

    /// <summary>
    /// A virtio device entered DEVICE_NEEDS_RESET: its driver broke a rule (a bad driver), or it failed by itself.
    /// The guest runs on (unless <see cref="LauncherOptions.StrictDrivers"/> makes a bad driver end the run).
    /// </summary>
    public event EventHandler<DeviceNeedsResetEventArgs>? DeviceNeedsReset;

    /// <summary>The machine every boot builds.</summary>
    public MachineProfile Profile => _backend.Profile;

    /// <summary>The guest memory layout every boot gets, as the machine lays it out.</summary>
    public GuestMemoryLayout Layout => Profile.CreateLayout(_options.MemoryBytes);

    /// <summary>Where the machine is in its life.</summary>
    public MachineState State
    {
        get
        {
            lock (_lock)
                return _state;
        }
    }

    /// <summary>How the run ended, once <see cref="State"/> is <see cref="MachineState.Stopped"/>; null before (and after a run that threw).</summary>
    public GuestExit? Exit
    {
        get
        {
            lock (_lock)
                return _exit;
        }
    }

    /// <summary>
    /// Boots the guest and runs it until it powers off, fails, <see cref="Stop"/> is called or <paramref name="cancellation"/>
    /// fires (then <see cref="GuestExitKind.Stopped"/> is returned). Blocks the calling thread for the whole run.
    /// </summary>
    /// <exception cref="HostUnavailableException">This host cannot run guests on the backend (no /dev/kvm, no permission); the reason says why.</exception>
    /// <exception cref="LguestException">The machine could not be built: the backend refused, the image does not load, a device's file is missing.</exception>
    /// <exception cref="InvalidOperationException">The launcher already ran: a launcher runs its machine once.</exception>
    /// <remarks>Any exception from <see cref="LauncherOptions.BeforeFirstRun"/> is thrown here too, before the guest runs.</remarks>
    public GuestExit Run(CancellationToken cancellation = default)
    {
        lock (_lock)
        {
            if (_started)
                throw new InvalidOperationException("this launcher already ran its machine; create a new one for another run");
            _started = true;
        }
        using CancellationTokenRegistration registration = cancellation.Register(() => Stop("stopped by the host"));
        using SerialConsoleOutput? serialOutput = _options.ConsoleOutput is { } output ? new SerialConsoleOutput(output) : null;
        try
        {
            GuestExit exit = RunBoots(serialOutput, cancellation);
            // Everything the guest wrote reaches the host's output before the run says it is over.
            serialOutput?.Complete();
            Finish(exit);
            return exit;
        }
        catch
        {
            serialOutput?.Complete();
            SetState(MachineState.Stopped);
            throw;
        }
    }

    /// <summary>
    /// <see cref="Run"/> on a thread of its own: the task completes with the exit when the run ends. Cancelling
    /// <paramref name="cancellation"/> stops the guest (the task then completes with <see cref="GuestExitKind.Stopped"/>,
    /// it is not cancelled); the task fails with what <see cref="Run"/> would throw.
    /// </summary>
    public Task<GuestExit> RunAsync(CancellationToken cancellation = default) =>
        Task.Factory.StartNew(() => Run(cancellation), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>
    /// Runs the guest (as <see cref="RunAsync"/>) until a line of <paramref name="console"/> matches, the guest ends by
    /// itself, <paramref name="timeout"/> passes, or <paramref name="cancellation"/> fires; in every case but the
    /// guest's own end it stops the guest, with the line or the timeout as the reason
    /// (<see cref="GuestExitKind.Stopped"/>). Completes <paramref name="console"/> when the run is over.
    /// </summary>
    /// <param name="console">The capture given to the console the guest writes (its <see cref="ConsoleCapture.Output"/>).</param>
    /// <param name="match">Which line ends the run.</param>
    /// <param name="timeout">How long to wait for it; <see cref="Timeout.InfiniteTimeSpan"/> for ever.</param>
    /// <param name="cancellation">Stops the guest.</param>
    /// <returns>How the run ended: <see cref="GuestExitKind.Stopped"/> with "the console showed ..." for a match.</returns>
    public async Task<GuestExit> RunUntilAsync(ConsoleCapture console, Func<string, bool> match, TimeSpan timeout, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(match);
        // Subscribed before the guest starts: its first line cannot be missed.
        Task<string?> line = console.WaitForLineAsync(match, timeout, cancellation);
        Task<GuestExit> run = RunAsync(cancellation);
        try
        {
            if (await Task.WhenAny(line, run).ConfigureAwait(false) == line && !run.IsCompleted)
            {
                Stop(line.IsCompletedSuccessfully
                    ? line.Result is { } seen ? $"the console showed \"{seen}\"" : $"no matching console line within {timeout}"
                    : "stopped while waiting for a console line");
            }
            GuestExit exit = await run.ConfigureAwait(false);
            if (line.IsFaulted)
                await line.ConfigureAwait(false); // the predicate's own exception
            return exit;
        }
        finally
        {
            console.Complete();
        }
    }

    /// <summary>
    /// Pauses the running guest: every vCPU leaves the guest (an exit it was serving is finished) and parks, then
    /// every device finishes the requests it holds and stops its workers, and the console input is held. Completes
    /// when the machine is <see cref="MachineState.Paused"/>: the guest makes no progress and the devices do no host
    /// I/O until <see cref="ResumeAsync"/>. <see cref="Stop"/> still works.
    /// </summary>
    /// <param name="cancellation">Gives up waiting for the vCPUs to park (one may be held in a device call); the guest then runs on.</param>
    /// <exception cref="MachineStateException">The machine is not <see cref="MachineState.Running"/>, or it stopped meanwhile.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> fired first.</exception>
    public async Task PauseAsync(CancellationToken cancellation = default)
    {
        await _control.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            MachineBoot boot = CurrentBoot("pause", MachineState.Running);
            bool paused = await Task.Factory.StartNew(() => boot.Pause(cancellation), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            if (!paused)
                throw new MachineStateException("pause", State, "the machine stopped while pausing");
            if (!TryChangeState(MachineState.Running, MachineState.Paused))
            {
                boot.Resume();
                throw new MachineStateException("pause", State, "the machine stopped while pausing");
            }
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>
    /// Resumes a paused guest: the devices start again on the same queues, then the vCPUs enter the guest, each
    /// first telling it that it was stopped (KVM_KVMCLOCK_CTRL), so the guest's watchdogs do not report the pause as
    /// a soft lockup. Completes when the machine is <see cref="MachineState.Running"/>.
    /// </summary>
    /// <exception cref="MachineStateException">The machine is not <see cref="MachineState.Paused"/>.</exception>
    public async Task ResumeAsync(CancellationToken cancellation = default)
    {
        await _control.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            MachineBoot boot = CurrentBoot("resume", MachineState.Paused);
            await Task.Run(boot.Resume, CancellationToken.None).ConfigureAwait(false);
            TryChangeState(MachineState.Paused, MachineState.Running);
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>
    /// Asks the guest to shut down in order: presses the machine's ACPI power button (Linux's button driver turns it
    /// into KEY_POWER, which systemd-logind or acpid answer by powering off; the run then ends with
    /// <see cref="GuestExitKind.PowerOff"/>). Returns whether the guest listens to the button now; when it does not
    /// (no ACPI button driver yet), the press stays latched and takes effect when the guest enables the event. A
    /// paused guest sees it when resumed.
    /// </summary>
    /// <exception cref="MachineStateException">The machine is not running or paused, or has no power button (the lguest machine).</exception>
    public bool RequestShutdown()
    {
        MachineBoot boot;
        lock (_lock)
        {
            if (_state is not (MachineState.Running or MachineState.Paused) || _current is not { } current)
                throw new MachineStateException("request a shutdown", _state, $"the machine is not running ({_state})");
            boot = current;
        }
        if (!Profile.HasPowerButton)
            throw new MachineStateException("request a shutdown", State, $"the {Profile.Name} machine has no power button");
        return boot.PressPowerButton();
    }

    /// <summary>
    /// Stops the machine from any thread, at any time: a running guest is stopped, a boot being built never runs, a
    /// reboot does not happen, and a run not started yet ends at once. <see cref="Run"/> returns
    /// <see cref="GuestExitKind.Stopped"/> with <paramref name="reason"/>. Later calls change nothing.
    /// </summary>
    public void Stop(string reason = "stopped by the host")
    {
        ArgumentNullException.ThrowIfNull(reason);
        var exit = new GuestExit(GuestExitKind.Stopped, reason);
        lock (_lock)
        {
            _stopRequest ??= exit;
            _current?.Stop(_stopRequest);
        }
    }

    /// <summary>Stops the machine if it runs, and the console input.</summary>
    public void Dispose()
    {
        Stop("the launcher was disposed");
        _serialInput?.Dispose();
        _control.Dispose();
    }

    private GuestExit RunBoots(SerialConsoleOutput? serialOutput, CancellationToken cancellation)
    {
        IHypervisor? hypervisor = null;
        while (true)
        {
            lock (_lock)
            {
                if (_stopRequest is { } stopped)
                    return stopped;
            }
            SetState(MachineState.Booting);
            // Opened where the machine starts: a host that cannot run guests says so here, with the reason.
            hypervisor ??= _backend.Open();
            GuestExit exit;
            using (var boot = new MachineBoot(hypervisor, Profile, Layout, _options, _factories, _loggerFactory, _serialInput, serialOutput,
                RaiseDeviceNeedsReset))
            {
                lock (_lock)
                {
                    _current = boot;
                    if (_stopRequest is { } stopped)
                        boot.Stop(stopped);
                }
                try
                {
                    bool restored = _boots == 0 && _options.RestoreFrom is not null;
                    if (restored)
                        boot.BuildRestored(_restoring ??= SnapshotDirectory.Read(_options.RestoreFrom!));
                    else
                        boot.Build(_image!);
                    int number = Interlocked.Increment(ref _boots);
                    if (number == 1)
                    {
                        // Everything the guest will ever need from the host is open now: confine the process.
                        _options.BeforeFirstRun?.Invoke();
                        boot.FirstEntry = LogFirstEntry;
                    }
                    // Running before the vCPUs start: whoever sees the guest run can pause it (a pause that comes
                    // first parks the vCPUs before their first entry).
                    if (restored && _options.RestorePaused && !boot.HasExit)
                    {
                        // Paused before the vCPUs start: they park before their first entry.
                        boot.Pause(CancellationToken.None);
                        SetState(MachineState.Paused);
                    }
                    else if (!boot.HasExit)
                        SetState(MachineState.Running);
                    if (boot.Start())
                        Raise(Booted, new GuestBootedEventArgs(number), nameof(Booted));
                    exit = boot.WaitForExit();
                }
                finally
                {
                    lock (_lock)
                        _current = null;
                }
            }
            _logger.Stopped(exit.Kind, exit.Message);
            if (exit.Kind == GuestExitKind.Reset && !_options.NoReboot && _image is not null && !cancellation.IsCancellationRequested)
            {
                _logger.Rebooting();
                continue;
            }
            return exit;
        }
    }

    private MachineBoot CurrentBoot(string operation, MachineState required)
    {
        lock (_lock)
        {
            if (_state != required || _current is not { } boot || boot.HasExit)
            {
                string reason = required == MachineState.Running
                    ? $"the machine is not running ({_state})"
                    : $"the machine is not {required.ToString().ToLowerInvariant()} ({_state})";
                throw new MachineStateException(operation, _state, reason);
            }
            return boot;
        }
    }

    private bool TryChangeState(MachineState from, MachineState to)
    {
        lock (_lock)
        {
            if (_state != from)
                return false;
            _state = to;
        }
        Raise(StateChanged, new MachineStateChangedEventArgs(from, to), nameof(StateChanged));
        return true;
    }

    private void Finish(GuestExit exit)
    {
        lock (_lock)
            _exit = exit;
        SetState(MachineState.Stopped);
        Raise(Exited, new GuestExitedEventArgs(exit), nameof(Exited));
    }

    private void SetState(MachineState state)
    {
        MachineState previous;
        lock (_lock)
        {
            previous = _state;
            if (previous == state)
                return;
            _state = state;
        }
        Raise(StateChanged, new MachineStateChangedEventArgs(previous, state), nameof(StateChanged));
    }

    private void RaiseDeviceNeedsReset(DeviceNeedsResetEventArgs e) => Raise(DeviceNeedsReset, e, nameof(DeviceNeedsReset));

    private void Raise<T>(EventHandler<T>? handler, T args, string name) where T : EventArgs
    {
        if (handler is null)
            return;
        try
        {
            handler(this, args);
        }
#pragma warning disable CA1031 // an embedder's handler must not take the machine down with it
        catch (Exception e)
#pragma warning restore CA1031
        {
            _logger.HandlerFailed(name, e);
        }
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
}
