namespace Lguest.Hypervisor;

/// <summary>Why <see cref="IVcpu.Run"/> returned.</summary>
public enum VcpuExitReason
{
    /// <summary>The guest read an I/O port: fill <see cref="VcpuExit.Data"/> before the next run.</summary>
    IoIn,

    /// <summary>The guest wrote an I/O port: <see cref="VcpuExit.Data"/> holds the bytes.</summary>
    IoOut,

    /// <summary>The guest read MMIO outside RAM: fill <see cref="VcpuExit.Data"/> before the next run.</summary>
    MmioRead,

    /// <summary>The guest wrote MMIO outside RAM: <see cref="VcpuExit.Data"/> holds the bytes.</summary>
    MmioWrite,

    /// <summary>The vCPU halted and nothing will wake it (no in-kernel interrupt controller, or interrupts off).</summary>
    Halt,

    /// <summary>The guest triple-faulted (or the backend saw an equivalent shutdown).</summary>
    Shutdown,

    /// <summary>The guest asked to be reset (reboot).</summary>
    Reset,

    /// <summary>The guest asked to be powered off.</summary>
    PowerOff,

    /// <summary><see cref="IVcpu.RequestExit"/> was called, or a signal interrupted the run: check why and run again or stop.</summary>
    Interrupted,

    /// <summary>The guest died for a reason the backend knows (an emulation failure, the lguest death message): see <see cref="VcpuExit.Detail"/>.</summary>
    Failed,
}
