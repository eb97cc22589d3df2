using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Platform;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Machine;

/// <summary>One boot of the machine, as device factories see it: where to register and what to wire to.</summary>
public sealed class PlatformContext
{
    private readonly List<IDisposable> _resources = [];
    private readonly List<IPausable> _pausables = [];
    private readonly List<SnapshotPart> _snapshotParts = [];
    private readonly SerialConsole? _serialConsole;

    internal PlatformContext(IVirtualMachine machine, IoBus portBus, IoBus mmioBus, PciBus pciBus, IPowerControl power,
        int cpuCount, ILoggerFactory loggerFactory, MachineProfile? profile = null, VirtioPciTransportOptions? virtioTransport = null,
        Stream? consoleOutput = null, SerialConsole? serialConsole = null)
    {
        Machine = machine;
        PortBus = portBus;
        MmioBus = mmioBus;
        PciBus = pciBus;
        Power = power;
        CpuCount = cpuCount;
        LoggerFactory = loggerFactory;
        Profile = profile ?? MachineProfile.Pc;
        VirtioTransport = virtioTransport ?? new VirtioPciTransportOptions();
        ConsoleOutput = consoleOutput;
        _serialConsole = serialConsole;
    }

    /// <summary>The guest as the backend runs it: interrupt lines, notify events.</summary>
    public IVirtualMachine Machine { get; }

    /// <summary>Guest RAM.</summary>
    public GuestMemory Memory => Machine.Memory;

    /// <summary>The port I/O space.</summary>
    public IoBus PortBus { get; }

    /// <summary>The MMIO space outside RAM.</summary>
    public IoBus MmioBus { get; }

    /// <summary>PCI bus 0, with its host bridge on 0xCF8-0xCFF.</summary>
    public PciBus PciBus { get; }

    /// <summary>The machine's power and reset inputs.</summary>
    public IPowerControl Power { get; }

    /// <summary>How many vCPUs the guest has.</summary>
    public int CpuCount { get; }

    /// <summary>Where devices get their loggers.</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>The machine being built.</summary>
    public MachineProfile Profile { get; }

    /// <summary>
    /// The bad-driver policy for this boot's virtio transports: strict or not (<see cref="LauncherOptions.StrictDrivers"/>),
    /// and in strict mode the callback that ends this boot with the driver's error.
    /// </summary>
    public VirtioPciTransportOptions VirtioTransport { get; }

    /// <summary>Where the machine's serial console writes (<see cref="LauncherOptions.ConsoleOutput"/>).</summary>
    internal Stream? ConsoleOutput { get; }

    /// <summary>Disposes <paramref name="resource"/> when this boot ends, after every vCPU has stopped.</summary>
    public void DisposeAtShutdown(IDisposable resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        _resources.Add(resource);
    }

    /// <summary>
    /// Pauses <paramref name="part"/> whenever the machine pauses (after its vCPUs have left the guest), and resumes it
    /// before they enter again: every device that works on threads of its own registers here.
    /// </summary>
    public void AddPausable(IPausable part)
    {
        ArgumentNullException.ThrowIfNull(part);
        _pausables.Add(part);
    }

    /// <summary>
    /// Makes state of a device part of the machine's snapshots (<see cref="Launcher.SnapshotAsync"/>), as the section
    /// <paramref name="name"/>: <paramref name="capture"/> is called while the machine is paused (no vCPU in the guest,
    /// every <see cref="IPausable"/> paused) and returns the device's record; on a restore,
    /// <paramref name="restore"/> gets that record back in a new process, after the vCPUs' and the VM's state, before
    /// any vCPU runs, and must check it as hostile input (throwing <see cref="Snapshot.SnapshotException"/>). Parts are
    /// captured and restored in the order they were added.
    /// </summary>
    /// <param name="name">The section's name, unique in the machine: 1-128 of <c>[A-Za-z0-9/_.:-]</c> (<see cref="Snapshot.SnapshotFormat.IsValidSectionName"/>).</param>
    /// <param name="capture">Returns the record.</param>
    /// <param name="restore">Takes the record back.</param>
    /// <exception cref="ArgumentException">The name is invalid or already taken.</exception>
    public void AddSnapshotState(string name, Func<byte[]> capture, Action<ReadOnlyMemory<byte>> restore)
    {
        ArgumentNullException.ThrowIfNull(capture);
        ArgumentNullException.ThrowIfNull(restore);
        if (!Snapshot.SnapshotFormat.IsValidSectionName(name) || MachineSnapshot.IsReservedSection(name) || _snapshotParts.Any(p => p.Name == name))
            throw new ArgumentException($"snapshot section name '{name}' is invalid, reserved or already taken", nameof(name));
        _snapshotParts.Add(new SnapshotPart(name, capture, restore));
    }

    /// <summary>Presses the machine's power button (true: the guest listens); null for a machine without one.</summary>
    internal Func<bool>? PowerButton { get; set; }

    /// <summary>What <see cref="AddPausable"/> registered, in registration order.</summary>
    internal IReadOnlyList<IPausable> Pausables => _pausables;

    /// <summary>What <see cref="AddSnapshotState"/> registered, in registration order.</summary>
    internal IReadOnlyList<SnapshotPart> SnapshotParts => _snapshotParts;

    /// <summary>Makes <paramref name="uart"/> this boot's receiver of the host's console input.</summary>
    internal void AttachSerialConsole(Uart16550 uart) => _serialConsole?.Attach(uart);

    internal void DisposeResources()
    {
        for (int i = _resources.Count - 1; i >= 0; i--)
            _resources[i].Dispose();
        _resources.Clear();
    }
}
