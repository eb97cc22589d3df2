using Lguest.Hypervisor;
using Microsoft.Extensions.Logging;

namespace Lguest.Machine;

/// <summary>
/// One vCPU's thread: enters the guest, serves each exit (port and MMIO accesses to the buses, halts, power and
/// reset requests, failures) and enters again, until the boot stops. Backend-neutral: KVM and /dev/lguest exits
/// look the same here. Between two exits it parks while the machine is paused (<see cref="MachineBoot.Park"/>). Whatever a device or the backend throws ends the boot with the reason, never the process.
/// </summary>
internal sealed class VcpuLoop(IVcpu vcpu, IoBus portBus, IoBus mmioBus, MachineBoot boot, ILogger logger)
{
    /// <summary>Called on vCPU 0's thread just before the guest's first instruction.</summary>
    public Action? FirstEntry { get; init; }

    /// <summary>Runs the vCPU until the boot has an exit.</summary>
    public void Run()
    {
        try
        {
            if (vcpu.Index == 0)
                FirstEntry?.Invoke();
            while (!boot.HasExit)
            {
                if (boot.PauseRequested)
                {
                    boot.Park(vcpu);
                    continue;
                }
                Serve(vcpu.Run());
            }
        }
        catch (LguestException e)
        {
            boot.Stop(new GuestExit(GuestExitKind.Failed, $"vCPU {vcpu.Index}: {e.Message}"));
        }
#pragma warning disable CA1031 // a device bug must end the guest with its reason, not kill the process silently
        catch (Exception e)
#pragma warning restore CA1031
        {
            boot.Stop(new GuestExit(GuestExitKind.Failed, $"vCPU {vcpu.Index}: internal error: {e}"));
        }
    }

    private void Serve(VcpuExit exit)
    {
        switch (exit.Reason)
        {
            case VcpuExitReason.IoIn:
                if (!portBus.TryRead(exit.Address, exit.Data))
                {
                    exit.Data.Fill(0xFF);
                    logger.Unclaimed("pio", "read", exit.Address, exit.Data.Length);
                }
                break;
            case VcpuExitReason.IoOut:
                if (!portBus.TryWrite(exit.Address, exit.Data))
                    logger.Unclaimed("pio", "write", exit.Address, exit.Data.Length);
                break;
            case VcpuExitReason.MmioRead:
                if (!mmioBus.TryRead(exit.Address, exit.Data))
                {
                    exit.Data.Fill(0xFF);
                    logger.Unclaimed("mmio", "read", exit.Address, exit.Data.Length);
                }
                break;
            case VcpuExitReason.MmioWrite:
                if (!mmioBus.TryWrite(exit.Address, exit.Data))
                    logger.Unclaimed("mmio", "write", exit.Address, exit.Data.Length);
                break;
            case VcpuExitReason.Interrupted:
                break; // the loop condition decides
            case VcpuExitReason.Halt:
                boot.Stop(new GuestExit(GuestExitKind.Halted, $"vCPU {vcpu.Index} halted with nothing to wake it"));
                break;
            case VcpuExitReason.Shutdown:
                boot.Stop(new GuestExit(GuestExitKind.TripleFault, exit.Detail ?? $"vCPU {vcpu.Index} triple-faulted"));
                break;
            case VcpuExitReason.Reset:
                boot.RequestReset();
                break;
            case VcpuExitReason.PowerOff:
                boot.RequestPowerOff();
                break;
            default:
                boot.Stop(new GuestExit(GuestExitKind.Failed, exit.Detail ?? $"vCPU {vcpu.Index} failed"));
                break;
        }
    }
}
