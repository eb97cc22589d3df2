namespace Lguest.Hypervisor;

/// <summary>
/// A part of the machine that works on threads of its own (a virtio device's workers, a host-side pump) and must
/// stand still while the machine is paused: no guest-visible progress, no host I/O. The launcher pauses these after
/// every vCPU has left the guest, and resumes them before any vCPU enters it again. Register one with
/// Lguest.Machine.PlatformContext.AddPausable.
/// </summary>
public interface IPausable
{
    /// <summary>
    /// Finishes the work in hand and stops; returns when nothing runs any more. Called on the thread pausing the
    /// machine, never on a vCPU; a second call without <see cref="Resume"/> between does nothing.
    /// </summary>
    void Pause();

    /// <summary>Starts again where <see cref="Pause"/> stopped. Nothing to do when not paused.</summary>
#pragma warning disable CA1716 // Resume is the word every VMM uses (Firecracker's "Resumed"); VB's keyword does not apply here
    void Resume();
#pragma warning restore CA1716
}
