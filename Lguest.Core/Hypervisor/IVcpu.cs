using Lguest.Snapshot;

namespace Lguest.Hypervisor;

/// <summary>
/// One virtual CPU. <see cref="Run"/> is called by the one thread that owns the vCPU; everything
/// else (<see cref="RequestExit"/>) may come from any thread.
/// </summary>
public interface IVcpu : IDisposable
{
    /// <summary>The vCPU's index, 0 for the boot processor.</summary>
    int Index { get; }

    /// <summary>
    /// Runs the guest until it needs the VMM. A read exit (<see cref="VcpuExitReason.IoIn"/>,
    /// <see cref="VcpuExitReason.MmioRead"/>) is completed by the next call with the bytes the caller
    /// left in <see cref="VcpuExit.Data"/>.
    /// </summary>
    VcpuExit Run();

    /// <summary>Makes a <see cref="Run"/> in progress, or the next one, return <see cref="VcpuExitReason.Interrupted"/> promptly.</summary>
    void RequestExit();

    /// <summary>
    /// Tells the guest that the host stopped this vCPU for a while (a pause, a snapshot), so its soft-lockup and
    /// stall watchdogs do not count that time against it: KVM's KVM_KVMCLOCK_CTRL, which flags the vCPU's kvmclock
    /// page at its next entry. Call between <see cref="Run"/> calls, on the thread that runs the vCPU. Nothing by
    /// default: a backend whose guests have no such clock (/dev/lguest) has nothing to tell.
    /// </summary>
    void NotifyGuestPaused()
    {
    }

    /// <summary>
    /// Captures the vCPU's whole architectural state for a snapshot (registers, FPU, MSRs, local APIC, pending
    /// events). Call only while the vCPU is not running (paused, between <see cref="Run"/> calls); an I/O or MMIO
    /// exit it last returned is completed first, without running further guest instructions.
    /// </summary>
    /// <exception cref="SnapshotException">The backend cannot snapshot (the default).</exception>
    BackendState CaptureState() => throw SnapshotException.NotSupported("capture a vCPU's state");

    /// <summary>
    /// Loads state <see cref="CaptureState"/> produced (on this host or another whose hypervisor accepted it in
    /// <see cref="IHypervisor.CheckRestorable"/>) into this vCPU, created without a boot state, before it first runs.
    /// </summary>
    /// <exception cref="SnapshotException">The backend cannot snapshot (the default), or the state is malformed.</exception>
    void RestoreState(BackendState state) => throw SnapshotException.NotSupported("restore a vCPU's state");
}
