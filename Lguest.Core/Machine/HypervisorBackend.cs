using Lguest.DevLguest;
using Lguest.Hypervisor;
using Lguest.Kvm;

namespace Lguest.Machine;

/// <summary>
/// The backend a <see cref="Launcher"/> runs on: the machine it runs (<see cref="Profile"/>, known at once) and the
/// hypervisor itself, opened when the machine starts (<see cref="Open"/>, called by <see cref="Launcher.Run"/>). So a
/// host without /dev/kvm fails where the guest starts, with a <see cref="HostUnavailableException"/> that says why,
/// not while the container is being built. Registered in the container by <c>AddKvm</c>, <c>AddDevLguest</c> or
/// <c>AddHypervisor</c>; the container disposes it, and with it the hypervisor it opened.
/// </summary>
public sealed class HypervisorBackend : IDisposable
{
    private readonly Func<IHypervisor> _open;
    private readonly bool _owns;
    private readonly Lock _lock = new();
    private IHypervisor? _opened;
    private bool _disposed;

    /// <summary>A backend opened on first use by <paramref name="open"/>; disposing the backend disposes what it opened.</summary>
    /// <param name="name">The backend's name, before it is opened ("kvm", "lguest").</param>
    /// <param name="profile">The machine the backend runs.</param>
    /// <param name="open">Opens the hypervisor; throws <see cref="HostUnavailableException"/> when the host cannot run guests.</param>
    public HypervisorBackend(string name, MachineProfile profile, Func<IHypervisor> open)
        : this(name, profile, open, owns: true)
    {
    }

    /// <summary>A backend over a hypervisor already open; disposing the backend leaves it to its owner.</summary>
    /// <param name="hypervisor">The hypervisor.</param>
    /// <param name="profile">The machine it runs.</param>
    public HypervisorBackend(IHypervisor hypervisor, MachineProfile profile)
        : this(hypervisor?.Name ?? throw new ArgumentNullException(nameof(hypervisor)), profile, () => hypervisor, owns: false)
    {
    }

    private HypervisorBackend(string name, MachineProfile profile, Func<IHypervisor> open, bool owns)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(open);
        Name = name;
        Profile = profile;
        _open = open;
        _owns = owns;
    }

    /// <summary>The backend's short name ("kvm", "lguest").</summary>
    public string Name { get; }

    /// <summary>The machine this backend runs: <see cref="MachineProfile.Pc"/> on KVM, <see cref="MachineProfile.Lguest"/> on /dev/lguest.</summary>
    public MachineProfile Profile { get; }

    /// <summary>
    /// Chooses a backend as <c>lguest --backend</c> does. <see cref="HypervisorKind.Auto"/> opens /dev/lguest now (a
    /// failure only means "not this one") and otherwise takes KVM; KVM and a forced /dev/lguest are opened later,
    /// when the machine starts, so a missing device is reported there.
    /// </summary>
    /// <param name="kind">Which backend.</param>
    /// <param name="kvm">Options for KVM; null for the defaults.</param>
    public static HypervisorBackend Choose(HypervisorKind kind, KvmHypervisorOptions? kvm = null)
    {
        switch (kind)
        {
            case HypervisorKind.Kvm:
                return Kvm(kvm);
            case HypervisorKind.Lguest:
                return DevLguest(LguestHypervisor.DefaultDevicePath);
            case HypervisorKind.Auto:
                if (!LguestHypervisor.TryOpen(LguestHypervisor.DefaultDevicePath, out LguestHypervisor? lguest, out _))
                    return Kvm(kvm);
                return Owning(lguest, MachineProfile.Lguest);
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a backend");
        }
    }

    /// <summary>KVM on <see cref="KvmHypervisorOptions.DevicePath"/>, running the PC; opened when the machine starts.</summary>
    public static HypervisorBackend Kvm(KvmHypervisorOptions? options = null) =>
        new("kvm", MachineProfile.Pc, () => KvmHypervisor.Open(options));

    /// <summary>/dev/lguest (or <paramref name="devicePath"/>), running the lguest machine; opened when the machine starts.</summary>
    public static HypervisorBackend DevLguest(string devicePath = LguestHypervisor.DefaultDevicePath)
    {
        ArgumentNullException.ThrowIfNull(devicePath);
        return new("lguest", MachineProfile.Lguest, () => LguestHypervisor.Open(devicePath));
    }

    /// <summary>A backend over a hypervisor already open that the backend owns: disposing it closes the hypervisor, opened by a machine or not.</summary>
    internal static HypervisorBackend Owning(IHypervisor hypervisor, MachineProfile profile) =>
        new(hypervisor.Name, profile, () => hypervisor, owns: true) { _opened = hypervisor };

    /// <summary>The hypervisor, opened on the first call; later calls return the same one.</summary>
    /// <exception cref="HostUnavailableException">This host cannot run guests on this backend; the reason says why.</exception>
    /// <exception cref="ObjectDisposedException">The backend was disposed.</exception>
    public IHypervisor Open()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _opened ??= _open();
        }
    }

    /// <summary>Disposes the hypervisor this backend opened (one it was given stays open).</summary>
    public void Dispose()
    {
        IHypervisor? opened;
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            opened = _opened;
            _opened = null;
        }
        if (_owns)
            (opened as IDisposable)?.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Profile.Name} machine)";
}
