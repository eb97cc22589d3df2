using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Machine;

/// <summary>What the launcher boots: puts a kernel (or any guest code) into fresh guest memory, on every boot and reboot.</summary>
public interface IBootImage
{
    /// <summary>Loads the guest into <paramref name="memory"/> and says how the boot vCPU starts it.</summary>
    /// <param name="memory">Zeroed guest RAM, with the platform's firmware tables (if any) already written.</param>
    /// <param name="target">The platform to load for and its ACPI RSDP, if it has one.</param>
    BootState Load(GuestMemory memory, BootTarget target);
}
