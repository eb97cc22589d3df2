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
}
