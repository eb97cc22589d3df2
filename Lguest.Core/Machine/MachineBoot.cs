using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Platform;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Machine;

/// <summary>
/// One boot of the machine: its memory, VM, devices and vCPU threads (each a <see cref="VcpuLoop"/>). The first
/// stop request (a power event from a device or vCPU, a failure, the host) wins; every vCPU is then kicked out of
/// the guest and joined. A stop that comes before <see cref="Start"/> (while the boot is being built) is kept: the
/// vCPUs then never enter the guest.
/// </summary>
/// <remarks>
/// Pausing (<see cref="Pause"/>): each vCPU is kicked out of the guest and parks in <see cref="Park"/> between two
/// exits (an exit it was serving is finished first), then every <see cref="IPausable"/> of the boot (the virtio
/// devices' workers) finishes its work in hand and stops, the host's console input is held, and the guest's serial
/// output so far is written out to the host. Resuming undoes it in the opposite order; each vCPU tells the guest it
/// was stopped (KVM_KVMCLOCK_CTRL) before it enters again.
/// A stop wakes parked vCPUs, which then leave.
/// </remarks>
internal sealed partial class MachineBoot : IPowerControl, IDisposable
{
    private readonly IHypervisor _hypervisor;
    private readonly MachineProfile _profile;
    private readonly GuestMemoryLayout _layout;
    private readonly LauncherOptions _options;
    private readonly IPlatformDeviceFactory[] _factories;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly SerialConsole? _serialInput;
    private readonly SerialConsoleOutput? _serialOutput;
    private readonly Action<DeviceNeedsResetEventArgs>? _needsReset;
    private readonly IoBus _portBus = new("pio");
    private readonly IoBus _mmioBus = new("mmio");
    private readonly ManualResetEventSlim _stopped = new();
    private readonly Lock _vcpuLock = new();
    private readonly List<IVcpu> _vcpus = [];
    private readonly List<Thread> _threads = [];
    private GuestMemory? _memory;
    private IVirtualMachine? _machine;
    private PlatformContext? _context;
    private GuestExit? _exit;
    /// <summary>
    /// How long a pause waits for the host's console to take what the guest wrote before it: a terminal stopped with
    /// Ctrl-S must not hold a pause (or a snapshot) for ever; the bytes are still written once it goes on.
    /// </summary>
    private static readonly TimeSpan ConsoleDrainWait = TimeSpan.FromSeconds(5);

    private readonly object _pauseGate = new(); // Monitor: parked vCPUs wait on it
    private volatile bool _pauseRequested;
    private int _parked;
    private bool _devicesPaused;

    public MachineBoot(IHypervisor hypervisor, MachineProfile profile, GuestMemoryLayout layout, LauncherOptions options,
        IPlatformDeviceFactory[] factories, ILoggerFactory loggerFactory, SerialConsole? serialInput, SerialConsoleOutput? serialOutput,
        Action<DeviceNeedsResetEventArgs>? needsReset)
    {
        _hypervisor = hypervisor;
        _profile = profile;
        _layout = layout;
        _options = options;
        _factories = factories;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<Launcher>();
        _serialInput = serialInput;
        _serialOutput = serialOutput;
        _needsReset = needsReset;
    }

    /// <summary>Called on vCPU 0's thread just before the guest's first instruction.</summary>
    public Action? FirstEntry { get; set; }

    /// <summary>Whether the boot has its exit (the vCPUs leave the guest).</summary>
    public bool HasExit => Volatile.Read(ref _exit) is not null;

    public void Build(IBootImage image)
    {
        BuildPlatform(_profile.Allocate(_layout));
        GuestAddress? rsdp = _profile.WriteFirmwareTables(_context!);
        BootState boot = image.Load(_memory!, new BootTarget(_profile.BootPlatform, rsdp));
        if (_logger.IsEnabled(LogLevel.Information))
            _logger.Booting(_options.MemoryBytes >> 20, _options.CpuCount, _hypervisor.Name, _profile.Name, boot.Entry.ToString(), boot.Mode.ToString());
        for (int i = 0; i < _options.CpuCount; i++)
        {
            IVcpu vcpu = _machine!.CreateVcpu(i, i == 0 ? boot : null);
            lock (_vcpuLock)
                _vcpus.Add(vcpu);
        }
    }

    // The VM on memory, and every device on it: the same for a boot and a restore, so a snapshot's sections find the
    // same devices in the same slots.
    private void BuildPlatform(GuestMemory memory)
    {
        _memory = memory;
        _machine = _hypervisor.CreateVirtualMachine(_memory, _portBus, _mmioBus);
        var pci = new PciBus(_machine, _mmioBus, new PciBusOptions { InterruptLines = _profile.PciInterruptLines },
            _loggerFactory.CreateLogger<PciBus>());
        var virtio = new VirtioPciTransportOptions
        {
            Strict = _options.StrictDrivers,
            Fatal = _options.StrictDrivers ? e => Stop(new GuestExit(GuestExitKind.BadDriver, e.Message)) : null,
            NeedsReset = _needsReset,
        };
        _context = new PlatformContext(_machine, _portBus, _mmioBus, pci, this, _options.CpuCount, _loggerFactory,
            _profile, virtio, _serialOutput?.Sink, _serialInput);
        _profile.AddPlatformDevices(_context);
        foreach (IPlatformDeviceFactory factory in _factories)
            factory.Create(_context);
    }

    /// <summary>
    /// Starts the vCPU threads, then returns at once (<see cref="WaitForExit"/> waits for the end); false, starting
    /// nothing, when the boot was stopped before it could start.
    /// </summary>
    public bool Start()
    {
        if (HasExit)
            return false;
        lock (_vcpuLock)
        {
            foreach (IVcpu vcpu in _vcpus)
            {
                var loop = new VcpuLoop(vcpu, _portBus, _mmioBus, this, _logger) { FirstEntry = vcpu.Index == 0 ? FirstEntry : null };
                var thread = new Thread(loop.Run) { Name = $"vCPU {vcpu.Index}", IsBackground = true };
                _threads.Add(thread);
                thread.Start();
            }
        }
        _serialInput?.Start();
        return true;
    }

    /// <summary>Waits until the boot stops, joins the vCPU threads, and returns why it stopped.</summary>
    public GuestExit WaitForExit()
    {
        _stopped.Wait(CancellationToken.None);
        JoinVcpus();
        return _exit!;
    }

    /// <summary>Whether the vCPUs should park at their next exit.</summary>
    public bool PauseRequested => _pauseRequested;

    /// <summary>
    /// Parks every vCPU outside the guest, then pauses the boot's devices and holds the console input. Returns false,
    /// with nothing paused, when the boot ends first.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> fired before every vCPU parked (they run on).</exception>
    public bool Pause(CancellationToken cancellation)
    {
        lock (_pauseGate)
            _pauseRequested = true;
        // Read after the request: a vCPU thread started from now on parks before its first entry.
        int count;
        lock (_vcpuLock)
            count = _threads.Count;
        try
        {
            KickForPause();
            lock (_pauseGate)
            {
                while (_parked < count && !HasExit)
                {
                    cancellation.ThrowIfCancellationRequested();
                    // A vCPU inside a device call when the kick landed leaves the guest only later: kick again.
                    if (!Monitor.Wait(_pauseGate, TimeSpan.FromMilliseconds(100)))
                        KickForPause();
                }
            }
        }
        catch
        {
            ReleaseParked();
            throw;
        }
        if (HasExit)
        {
            ReleaseParked();
            return false;
        }
        IReadOnlyList<IPausable> parts = _context?.Pausables ?? [];
        foreach (IPausable part in parts)
            part.Pause();
        _serialInput?.Hold(true);
        // What the guest wrote to its serial console before it stopped reaches the host before the pause is reported:
        // whoever then snapshots and kills the process has all of it (the drain thread runs on while paused).
        if (_serialOutput is not null && !_serialOutput.WaitWritten(ConsoleDrainWait))
            _logger.ConsoleBehind(ConsoleDrainWait.TotalSeconds);
        _devicesPaused = true;
        return true;
    }

    /// <summary>Resumes the devices and the console input, then lets the vCPUs enter the guest again.</summary>
    public void Resume()
    {
        if (_devicesPaused)
        {
            _devicesPaused = false;
            _serialInput?.Hold(false);
            IReadOnlyList<IPausable> parts = _context?.Pausables ?? [];
            foreach (IPausable part in parts)
                part.Resume();
        }
        ReleaseParked();
    }

    /// <summary>
    /// Called by a vCPU's loop between exits while <see cref="PauseRequested"/>: waits there until the pause ends or
    /// the boot stops, then tells the guest it was stopped.
    /// </summary>
    public void Park(IVcpu vcpu)
    {
        lock (_pauseGate)
        {
            _parked++;
            Monitor.PulseAll(_pauseGate);
            while (_pauseRequested && !HasExit)
                Monitor.Wait(_pauseGate);
            _parked--;
        }
        if (!HasExit)
            vcpu.NotifyGuestPaused();
    }

    public void RequestPowerOff() => Stop(new GuestExit(GuestExitKind.PowerOff, "the guest powered off"));

    public void RequestReset() => Stop(new GuestExit(GuestExitKind.Reset, "the guest asked for a reset"));

    /// <summary>Ends the boot with <paramref name="exit"/> unless it already ended; safe from any thread.</summary>
    public void Stop(GuestExit exit)
    {
        if (Interlocked.CompareExchange(ref _exit, exit, null) is not null)
            return;
        KickVcpus();
        lock (_pauseGate)
            Monitor.PulseAll(_pauseGate); // parked vCPUs leave
        _stopped.Set();
    }

    /// <summary>Presses the machine's power button; false when it has none or the guest does not listen to it.</summary>
    public bool PressPowerButton() => _context?.PowerButton is { } press && press();

    public void Dispose()
    {
        _serialInput?.Attach(null);
        _context?.DisposeResources();
        foreach (IVcpu vcpu in _vcpus)
            vcpu.Dispose();
        _machine?.Dispose();
        _memory?.Dispose();
        _stopped.Dispose();
    }

    private void KickVcpus()
    {
        lock (_vcpuLock)
        {
            foreach (IVcpu vcpu in _vcpus)
                vcpu.RequestExit();
        }
        // A vCPU waiting for the host's console output to drain would not see the kick.
        _serialOutput?.ReleaseWriters();
    }

    private void KickForPause()
    {
        lock (_vcpuLock)
        {
            foreach (IVcpu vcpu in _vcpus)
                vcpu.RequestExit();
        }
    }

    private void ReleaseParked()
    {
        lock (_pauseGate)
        {
            _pauseRequested = false;
            Monitor.PulseAll(_pauseGate);
        }
    }

    private void JoinVcpus()
    {
        Thread[] threads;
        lock (_vcpuLock)
            threads = [.. _threads];
        foreach (Thread thread in threads)
        {
            // A vCPU may be inside a device call when the kick lands; kick again until it leaves.
            while (!thread.Join(TimeSpan.FromMilliseconds(100)))
                KickVcpus();
        }
    }
}
