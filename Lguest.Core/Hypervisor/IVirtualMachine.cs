using Lguest.Memory;
using Lguest.Snapshot;

namespace Lguest.Hypervisor;

/// <summary>
/// A guest as a backend runs it: its memory registered with the hypervisor, its vCPUs and its
/// interrupt inputs. Everything above this seam (the launcher, buses, PCI, devices) is shared by
/// every backend.
/// </summary>
public interface IVirtualMachine : IDisposable
{
    /// <summary>The guest's RAM.</summary>
    GuestMemory Memory { get; }

    /// <summary>
    /// Creates vCPU <paramref name="index"/>. The boot vCPU (0) starts at <paramref name="boot"/>; the
    /// others wait for the boot vCPU to start them (INIT/SIPI) and take null.
    /// </summary>
    IVcpu CreateVcpu(int index, BootState? boot);

    /// <summary>The interrupt input numbered <paramref name="gsi"/>.</summary>
    IInterruptLine GetInterruptLine(int gsi);

    /// <summary>
    /// Asks the backend to signal <paramref name="notifier"/> itself when the guest writes
    /// <paramref name="width"/> bytes at MMIO <paramref name="address"/> (a virtqueue notification), so the
    /// write never costs a vCPU exit (KVM ioeventfd). Returns false when the backend cannot; the write
    /// then reaches the MMIO bus as usual. Dispose the registration when the address moves.
    /// </summary>
    bool TryRegisterNotifyEvent(GuestAddress address, int width, EventNotifier notifier, out IDisposable? registration);

    /// <summary>
    /// Creates a route for one message-signalled interrupt (a PCI MSI-X vector): the guest programs its
    /// message, a device worker signals it. Returns false when the backend cannot deliver messages
    /// (/dev/lguest, a KVM VM without an in-kernel interrupt controller, or out of routes); devices then
    /// offer no MSI-X and interrupt through their INTx# line. The default is false, so a backend opts in.
    /// </summary>
    bool TryCreateMsiRoute(out IMsiRoute? route)
    {
        route = null;
        return false;
    }

    /// <summary>
    /// Captures the state the backend keeps for the whole VM (in-kernel interrupt controllers, timer, clock) for a
    /// snapshot. Call only while no vCPU runs. MSI routes are not part of it: they follow from the devices' MSI-X
    /// tables, which restore them.
    /// </summary>
    /// <exception cref="SnapshotException">The backend cannot snapshot (the default).</exception>
    BackendState CaptureState() => throw SnapshotException.NotSupported("capture a VM's state");

    /// <summary>Loads state <see cref="CaptureState"/> produced, after the vCPUs' states, before any vCPU runs.</summary>
    /// <exception cref="SnapshotException">The backend cannot snapshot (the default), or the state is malformed.</exception>
    void RestoreState(BackendState state) => throw SnapshotException.NotSupported("restore a VM's state");
}
