namespace Lguest.Kvm;

/// <summary>How the KVM backend sets up guests.</summary>
public sealed class KvmHypervisorOptions
{
    /// <summary>The KVM device node.</summary>
    public string DevicePath { get; set; } = "/dev/kvm";

    /// <summary>
    /// The CPUID edits every vCPU gets; null picks <see cref="CpuTemplate.InstructionEmulator"/> on a host
    /// whose KVM is kvm_pvm and <see cref="CpuTemplate.Default"/> elsewhere.
    /// </summary>
    public CpuTemplate? CpuTemplate { get; set; }

    /// <summary>
    /// Whether the VM gets KVM's in-kernel PIC, IOAPIC, local APICs and PIT (the launcher's guests
    /// always do). Without them a halted vCPU exits with <see cref="Hypervisor.VcpuExitReason.Halt"/>.
    /// </summary>
    internal bool InKernelIrqchip { get; set; } = true;
}
