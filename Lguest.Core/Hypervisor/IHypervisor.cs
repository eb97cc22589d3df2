using Lguest.Memory;
using Lguest.Snapshot;

namespace Lguest.Hypervisor;

/// <summary>A way to run guests: KVM, or the historical /dev/lguest.</summary>
public interface IHypervisor
{
    /// <summary>A short name for messages ("kvm", "lguest").</summary>
    string Name { get; }

    /// <summary>Creates a guest over <paramref name="memory"/>. Guest accesses outside RAM go to the two buses.</summary>
    IVirtualMachine CreateVirtualMachine(GuestMemory memory, IoBus portBus, IoBus mmioBus);

    /// <summary>Whether this backend can capture and restore guests (<see cref="IVcpu.CaptureState"/> and the rest).</summary>
    bool SupportsSnapshots => false;

    /// <summary>
    /// Checks, before anything is created, that this host can run a vCPU captured as <paramref name="vcpu"/>: every
    /// CPU feature it was given, its FPU state's size, its TSC frequency. Throws naming the first that is missing.
    /// </summary>
    /// <exception cref="SnapshotException">The host cannot (<see cref="SnapshotRefusal.Incompatible"/>), the state is
    /// malformed, or the backend cannot snapshot (the default).</exception>
    void CheckRestorable(BackendState vcpu) => throw SnapshotException.NotSupported("restore a snapshot");
}
