using System.Globalization;
using Lguest.Devices;
using Lguest.Machine;
using Lguest.Snapshot;

namespace Lguest.Cli.Api;

/// <summary>
/// The machine the API drives: Firecracker's pre-boot configuration (machine-config, boot-source, drives, network
/// interfaces, vsock, entropy) until InstanceStart or a snapshot load, then the running <see cref="Launcher"/>. Pre-boot
/// calls after the start, and post-boot calls before it, are refused with Firecracker's messages; what a started machine
/// allows (pause only when running, resume only when paused, a snapshot only while paused, a shutdown request only while
/// it runs) is the launcher's own rule (<see cref="MachineStateException"/>), passed on as the fault. Thread-safe: Kestrel
/// calls it from any thread.
/// </summary>
internal sealed class ApiMachine
{
    /// <summary>Firecracker's answer to a pre-boot call after the start.</summary>
    public const string NotSupportedPostBoot = "The requested operation is not supported after starting the microVM.";

    /// <summary>Firecracker's answer to a post-boot call before the start.</summary>
    public const string NotSupportedPreBoot = "The requested operation is not supported before starting the microVM.";

    /// <summary>Firecracker's answer when a resource's id in the path and in the body differ.</summary>
    public const string IdMismatch = "The id from the path does not match the id from the body!";

    /// <summary>Firecracker's answer to a snapshot load after the machine or its boot source was configured.</summary>
    public const string LoadNotAllowed = "Loading a microVM snapshot not allowed after configuring boot-specific resources.";

    /// <summary>The instance id Firecracker reports when it was given none.</summary>
    public const string InstanceId = "anonymous-instance";

    private readonly Lock _lock = new();
    private readonly RunArguments _cli;
    private readonly List<Drive> _drives = [];
    private readonly List<(NetworkInterface Interface, MacAddress? Mac)> _interfaces = [];
    private readonly TaskCompletionSource<RunArguments> _startRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string?> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MachineConfiguration _machine = MachineConfiguration.Default;
    private bool _machineConfigured;
    private BootSource? _bootSource;
    private Vsock? _vsock;
    private Entropy? _entropy;
    private bool _starting;
    private Launcher? _launcher;

    /// <summary>A machine to configure over the API; <paramref name="cli"/> gives the options the API has no say in (-v, --strict, --backend).</summary>
    public ApiMachine(RunArguments cli) => _cli = cli;

    /// <summary>Completes with the run's arguments when a client asks for InstanceStart or loads a snapshot.</summary>
    public Task<RunArguments> StartRequested => _startRequested.Task;

    /// <summary>
    /// Marks the machine started by the command line (a kernel argument, or a config file): the configuration calls are
    /// refused from now on, the control calls wait for <see cref="Attach"/>.
    /// </summary>
    public void MarkStarted()
    {
        lock (_lock)
            _starting = true;
    }

    /// <summary>The launcher that runs the machine: the control calls go to it from now on.</summary>
    public void Attach(Launcher launcher)
    {
        lock (_lock)
            _launcher = launcher;
        launcher.StateChanged += (_, e) =>
        {
            // Paused: a snapshot loaded without resume_vm.
            if (e.State is MachineState.Running or MachineState.Paused)
                _started.TrySetResult(null);
        };
        if (launcher.State is MachineState.Running or MachineState.Paused)
            _started.TrySetResult(null);
    }

    /// <summary>The run ended before the guest ran: an InstanceStart waiting for it answers with <paramref name="fault"/>.</summary>
    public void FailStart(string fault) => _started.TrySetResult(fault);

    /// <summary>GET /.</summary>
    public InstanceInfo Info()
    {
        string state;
        lock (_lock)
        {
            state = _launcher?.State switch
            {
                null => _starting ? "Running" : "Not started",
                MachineState.Configured => "Not started",
                MachineState.Paused => "Paused",
                MachineState.Stopped => "Stopped",
                _ => "Running",
            };
        }
        return new InstanceInfo("lguest", InstanceId, state, typeof(ApiMachine).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
    }

    /// <summary>GET /machine-config.</summary>
    public MachineConfiguration MachineConfig
    {
        get
        {
            lock (_lock)
                return _machine;
        }
    }

    /// <summary>PUT /machine-config.</summary>
    public string? SetMachineConfig(MachineConfiguration config) => Configure(() => config.Validate() ?? Set(() => SetMachine(config)));

    /// <summary>PATCH /machine-config.</summary>
    public string? UpdateMachineConfig(MachineConfigurationUpdate update) =>
        Configure(() => update.ApplyTo(_machine) is var config && config.Validate() is { } fault ? fault : Set(() => SetMachine(config)));

    private void SetMachine(MachineConfiguration config)
    {
        _machine = config;
        _machineConfigured = true;
    }

    /// <summary>PUT /boot-source.</summary>
    public string? SetBootSource(BootSource source) => Configure(source.Validate, () => Set(() => _bootSource = source));

    /// <summary>PUT /drives/{id}: adds the drive, or replaces the one with that id.</summary>
    public string? SetDrive(string id, Drive drive) => Configure(() => drive.DriveId != id ? IdMismatch : drive.Validate(), () =>
    {
        if (drive.IsRootDevice && _drives.Any(d => d.IsRootDevice && d.DriveId != id))
            return "A root block device already exists!";
        int at = _drives.FindIndex(d => d.DriveId == id);
        return Set(() =>
        {
            if (at >= 0)
                _drives[at] = drive;
            else
                _drives.Add(drive);
        });
    });

    /// <summary>PUT /network-interfaces/{id}: adds the interface, or replaces the one with that id.</summary>
    public string? SetNetworkInterface(string id, NetworkInterface network)
    {
        MacAddress? mac = null;
        return Configure(() => network.IfaceId != id ? IdMismatch : network.Validate(out mac), () => AddNetworkInterface(id, network, mac));
    }

    private string? AddNetworkInterface(string id, NetworkInterface network, MacAddress? mac)
    {
        int at = _interfaces.FindIndex(n => n.Interface.IfaceId == id);
        if (_interfaces.Any(n => n.Interface.IfaceId != id && n.Interface.HostDevName == network.HostDevName))
            return $"The host device name {network.HostDevName} is already in use.";
        if (mac is not null && _interfaces.Any(n => n.Interface.IfaceId != id && n.Mac == mac))
            return $"The guest MAC address {mac} is already in use.";
        return Set(() =>
        {
            if (at >= 0)
                _interfaces[at] = (network, mac);
            else
                _interfaces.Add((network, mac));
        });
    }

    /// <summary>PUT /vsock.</summary>
    public string? SetVsock(Vsock vsock) => Configure(vsock.Validate, () => Set(() => _vsock = vsock));

    /// <summary>PUT /entropy.</summary>
    public string? SetEntropy(Entropy entropy) => Configure(entropy.Validate, () => Set(() => _entropy = entropy));

    /// <summary>
    /// PUT /actions InstanceStart: hands the configuration to the run (<see cref="StartRequested"/>) and completes when
    /// the guest runs (null), or with the fault when it could not start.
    /// </summary>
    public Task<string?> StartAsync()
    {
        RunArguments? arguments = null;
        string? fault = Configure(() =>
        {
            if (_bootSource is null)
                return "Cannot start microvm without kernel configuration.";
            arguments = ToRunArguments();
            _starting = true;
            return null;
        });
        return fault is null ? StartRunAsync(arguments!) : Task.FromResult<string?>(fault);
    }

    /// <summary>
    /// PUT /snapshot/load: checks the request and the snapshot, then hands the run a restore of it (the devices configured
    /// so far, each network override and the vsock override applied) and completes when the guest runs or stays paused
    /// (null), or with the fault when it could not. Allowed before the start only, and not after the machine or the boot
    /// source was configured (the snapshot says both); the devices must be configured first, as the snapshot's.
    /// </summary>
    public Task<string?> LoadSnapshotAsync(SnapshotLoadParams request)
    {
        RunArguments? arguments = null;
        string? fault = Configure(request.Validate, () =>
        {
            if (_bootSource is not null || _machineConfigured)
                return LoadNotAllowed;
            if (Override(request) is { } bad)
                return bad;
            (List<DeviceOption> devices, _) = DeviceOptions();
            arguments = _cli with { Restore = request.SnapshotPath, RestorePaused = !request.ResumeVm, Devices = devices };
            _starting = true;
            return null;
        });
        return fault is null ? StartRunAsync(arguments!) : Task.FromResult<string?>(fault);
    }

    /// <summary>
    /// PUT /snapshot/create: the launcher writes a snapshot of the paused guest into the directory
    /// <see cref="SnapshotCreateParams.SnapshotPath"/>; null when it did, else why not (not started, not paused, a file
    /// that cannot be written, a device that cannot take part).
    /// </summary>
    public Task<string?> CreateSnapshotAsync(SnapshotCreateParams request) =>
        request.Validate() is { } fault
            ? Task.FromResult<string?>(fault)
            : Control(launcher => launcher.SnapshotAsync(request.SnapshotPath), "Cannot create the snapshot");

    // Hands the run its arguments (the caller marked the machine started, under the lock) and waits for the guest.
    private async Task<string?> StartRunAsync(RunArguments arguments)
    {
        _startRequested.TrySetResult(arguments);
        return await _started.Task.ConfigureAwait(false);
    }

    // The load's overrides on the configured devices, each checked as a PUT of the device would be, all before any is
    // applied. Called under the lock.
    private string? Override(SnapshotLoadParams request)
    {
        var interfaces = new List<(NetworkInterface Interface, MacAddress? Mac)>(_interfaces);
        foreach (NetworkOverride change in request.NetworkOverrides ?? [])
        {
            int at = interfaces.FindIndex(n => n.Interface.IfaceId == change.IfaceId);
            if (at < 0)
                return $"The network interface '{change.IfaceId}' to override is not configured: PUT /network-interfaces/{change.IfaceId} before the load.";
            NetworkInterface changed = interfaces[at].Interface with { HostDevName = change.HostDevName };
            if (changed.Validate(out _) is { } bad)
                return bad;
            interfaces[at] = (changed, interfaces[at].Mac);
        }
        Vsock? vsock = _vsock;
        if (request.VsockOverride is { } socket)
        {
            if (vsock is null)
                return "There is no vsock device to override: PUT /vsock before the load.";
            vsock = vsock with { UdsPath = socket.UdsPath };
            if (vsock.Validate() is { } bad)
                return bad;
        }
        _interfaces.Clear();
        _interfaces.AddRange(interfaces);
        _vsock = vsock;
        return null;
    }

    /// <summary>PUT /actions SendCtrlAltDel: the launcher's graceful shutdown request (the ACPI power button).</summary>
    public string? RequestShutdown() => Control(launcher =>
    {
        launcher.RequestShutdown();
        return Task.CompletedTask;
    }).GetAwaiter().GetResult();

    /// <summary>PATCH /vm Paused.</summary>
    public Task<string?> PauseAsync() => Control(launcher => launcher.PauseAsync());

    /// <summary>PATCH /vm Resumed.</summary>
    public Task<string?> ResumeAsync() => Control(launcher => launcher.ResumeAsync());

    /// <summary>
    /// The run's arguments for the configuration: the command line's options, the machine, the kernel and its command
    /// line (with root= for the root drive, as Firecracker adds it), and the devices (<see cref="DeviceOptions"/>).
    /// </summary>
    public RunArguments ToRunArguments()
    {
        lock (_lock)
        {
            BootSource boot = _bootSource ?? throw new InvalidOperationException("no boot source");
            (List<DeviceOption> devices, List<string> root) = DeviceOptions();
            var kernelArguments = (boot.BootArgs ?? BootSource.DefaultBootArgs)
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                // Firecracker's guides pass pci=off (its devices are on virtio-mmio); lguest's are PCI functions.
                .Where(a => a != "pci=off")
                .Concat(root)
                .ToList();
            return _cli with
            {
                Memory = _machine.MemSizeMib.ToString(CultureInfo.InvariantCulture),
                Cpus = _machine.VcpuCount,
                Kernel = boot.KernelImagePath,
                Initrd = boot.InitrdPath,
                KernelArguments = kernelArguments,
                Devices = devices,
            };
        }
    }

    // The devices, in the order a run (and the restore of its snapshot) adds them: drives (the root drive first, so it
    // is /dev/vda), network interfaces, vsock, entropy; and the root drive's kernel arguments. Called under the lock.
    private (List<DeviceOption> Devices, List<string> RootArguments) DeviceOptions()
    {
        var devices = new List<DeviceOption>();
        var root = new List<string>();
        foreach (Drive drive in _drives.OrderBy(d => d.IsRootDevice ? 0 : 1))
        {
            VirtioBlockIoEngine? engine = drive.IoEngine switch
            {
                "Sync" => VirtioBlockIoEngine.Sync,
                "Async" => VirtioBlockIoEngine.IoUring,
                _ => null,
            };
            devices.Add(new DeviceOption(DeviceKind.Block, drive.PathOnHost, ReadOnly: drive.IsReadOnly, IoEngine: engine));
            if (drive.IsRootDevice)
            {
                root.Add(drive.Partuuid is { } uuid ? $"root=PARTUUID={uuid}" : "root=/dev/vda");
                root.Add(drive.IsReadOnly ? "ro" : "rw");
            }
        }
        foreach ((NetworkInterface network, MacAddress? mac) in _interfaces)
            devices.Add(new DeviceOption(DeviceKind.Tap, network.HostDevName, Mac: mac));
        if (_vsock is { } vsock)
            devices.Add(new DeviceOption(DeviceKind.Vsock, vsock.UdsPath, GuestCid: vsock.GuestCid));
        if (_entropy is not null)
            devices.Add(new DeviceOption(DeviceKind.Rng, null));
        return (devices, root);
    }

    // A pre-boot call: refused once the machine started; else runs under the lock.
    private string? Configure(Func<string?> change)
    {
        lock (_lock)
            return _starting ? NotSupportedPostBoot : change();
    }

    // A pre-boot call that checks host files first: outside the lock, since opening a path a client names can take as
    // long as the client likes (a FIFO waits for a writer), and that must not hold up anyone else's call.
    private string? Configure(Func<string?> validate, Func<string?> change)
    {
        lock (_lock)
        {
            if (_starting)
                return NotSupportedPostBoot;
        }
        return validate() ?? Configure(change);
    }

    private static string? Set(Action set)
    {
        set();
        return null;
    }

    // A post-boot call: refused before the start; the launcher's own state rules answer the rest, and a host error
    // (a snapshot's file) is the fault after failure's words.
    private async Task<string?> Control(Func<Launcher, Task> operation, string failure = "The operation failed")
    {
        Launcher? launcher;
        lock (_lock)
            launcher = _launcher;
        if (launcher is null)
            return NotSupportedPreBoot;
        try
        {
            await operation(launcher).ConfigureAwait(false);
            return null;
        }
        catch (MachineStateException e)
        {
            return e.Message;
        }
        catch (Exception e) when (e is SnapshotException or IOException or UnauthorizedAccessException)
        {
            return $"{failure}: {e.Message}";
        }
    }
}
