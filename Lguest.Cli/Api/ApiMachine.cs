using System.Globalization;
using Lguest.Devices;
using Lguest.Machine;

namespace Lguest.Cli.Api;

/// <summary>
/// The machine the API drives: Firecracker's pre-boot configuration (machine-config, boot-source, drives, network
/// interfaces, vsock, entropy) until InstanceStart, then the running <see cref="Launcher"/>. Pre-boot calls after the
/// start, and post-boot calls before it, are refused with Firecracker's messages; what a started machine allows
/// (pause only when running, resume only when paused, a shutdown request only while it runs) is the launcher's own
/// rule (<see cref="MachineStateException"/>), passed on as the fault. Thread-safe: Kestrel calls it from any thread.
/// </summary>
internal sealed class ApiMachine
{
    /// <summary>Firecracker's answer to a pre-boot call after the start.</summary>
    public const string NotSupportedPostBoot = "The requested operation is not supported after starting the microVM.";

    /// <summary>Firecracker's answer to a post-boot call before the start.</summary>
    public const string NotSupportedPreBoot = "The requested operation is not supported before starting the microVM.";

    /// <summary>Firecracker's answer when a resource's id in the path and in the body differ.</summary>
    public const string IdMismatch = "The id from the path does not match the id from the body!";

    /// <summary>The instance id Firecracker reports when it was given none.</summary>
    public const string InstanceId = "anonymous-instance";

    private readonly Lock _lock = new();
    private readonly RunArguments _cli;
    private readonly List<Drive> _drives = [];
    private readonly List<(NetworkInterface Interface, MacAddress? Mac)> _interfaces = [];
    private readonly TaskCompletionSource<RunArguments> _startRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string?> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MachineConfiguration _machine = MachineConfiguration.Default;
    private BootSource? _bootSource;
    private Vsock? _vsock;
    private Entropy? _entropy;
    private bool _starting;
    private Launcher? _launcher;

    /// <summary>A machine to configure over the API; <paramref name="cli"/> gives the options the API has no say in (-v, --strict, --backend).</summary>
    public ApiMachine(RunArguments cli) => _cli = cli;

    /// <summary>Completes with the run's arguments when a client asks for InstanceStart.</summary>
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
            if (e.State is MachineState.Running)
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
    public string? SetMachineConfig(MachineConfiguration config) => Configure(() => config.Validate() ?? Set(() => _machine = config));

    /// <summary>PATCH /machine-config.</summary>
    public string? UpdateMachineConfig(MachineConfigurationUpdate update) =>
        Configure(() => update.ApplyTo(_machine) is var config && config.Validate() is { } fault ? fault : Set(() => _machine = config));

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
    public async Task<string?> StartAsync()
    {
        RunArguments arguments;
        lock (_lock)
        {
            if (_starting)
                return NotSupportedPostBoot;
            if (_bootSource is null)
                return "Cannot start microvm without kernel configuration.";
            arguments = ToRunArguments();
            _starting = true;
        }
        _startRequested.TrySetResult(arguments);
        return await _started.Task.ConfigureAwait(false);
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
    /// line (with root= for the root drive, as Firecracker adds it), and the devices: drives (the root drive first, so
    /// it is /dev/vda), network interfaces, vsock, entropy.
    /// </summary>
    public RunArguments ToRunArguments()
    {
        lock (_lock)
        {
            BootSource boot = _bootSource ?? throw new InvalidOperationException("no boot source");
            var kernelArguments = (boot.BootArgs ?? BootSource.DefaultBootArgs)
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                // Firecracker's guides pass pci=off (its devices are on virtio-mmio); lguest's are PCI functions.
                .Where(a => a != "pci=off")
                .ToList();
            var devices = new List<DeviceOption>();
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
                    kernelArguments.Add(drive.Partuuid is { } uuid ? $"root=PARTUUID={uuid}" : "root=/dev/vda");
                    kernelArguments.Add(drive.IsReadOnly ? "ro" : "rw");
                }
            }
            foreach ((NetworkInterface network, MacAddress? mac) in _interfaces)
                devices.Add(new DeviceOption(DeviceKind.Tap, network.HostDevName, Mac: mac));
            if (_vsock is { } vsock)
                devices.Add(new DeviceOption(DeviceKind.Vsock, vsock.UdsPath, GuestCid: vsock.GuestCid));
            if (_entropy is not null)
                devices.Add(new DeviceOption(DeviceKind.Rng, null));
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

    // A post-boot call: refused before the start; the launcher's own state rules answer the rest.
    private async Task<string?> Control(Func<Launcher, Task> operation)
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
    }
}
