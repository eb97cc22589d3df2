using Lguest.Memory;

namespace Lguest.Hypervisor;

/// <summary>The CPU mode and register convention a kernel expects at its entry point.</summary>
public enum BootCpuMode
{
    /// <summary>x86 64-bit boot protocol: long mode, identity-mapped paging, RSI = boot_params.</summary>
    Linux64,

    /// <summary>x86 32-bit boot protocol: flat protected mode, paging off, ESI = boot_params.</summary>
    Linux32,

    /// <summary>PVH direct boot: flat protected mode, paging off, EBX = hvm_start_info.</summary>
    Pvh,
}

/// <summary>Where the boot vCPU starts and what it is handed: what a backend needs from the kernel loader.</summary>
/// <param name="Mode">The entry convention.</param>
/// <param name="Entry">The guest-physical entry point.</param>
/// <param name="BootInfo">The boot_params (zero page) or hvm_start_info address passed in the register the mode names.</param>
public sealed record BootState(BootCpuMode Mode, GuestAddress Entry, GuestAddress BootInfo);
