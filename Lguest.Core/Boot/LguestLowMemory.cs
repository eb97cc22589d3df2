namespace Lguest.Boot;

/// <summary>
/// Where the lguest platform puts its boot structures, exactly as the lguest launcher did (the
/// /dev/lguest Host and the guest's lguest_init depend on it): the zero page at guest-physical 0, the
/// command line straight after it, a bzImage's protected-mode code at 1 MiB and the initrd at the top
/// of RAM.
/// </summary>
public static class LguestLowMemory
{
    /// <summary>The zero page, struct boot_params.</summary>
    public const ulong ZeroPage = 0;

    /// <summary>The command line, right after the zero page.</summary>
    public const ulong CommandLine = 0x1000;

    /// <summary>Where a bzImage's protected-mode code is loaded.</summary>
    public const ulong KernelLoadAddress = 0x100000;

    /// <summary>The kernel_alignment the launcher writes: 16 MiB (CONFIG_PHYSICAL_ALIGN of lguest kernels).</summary>
    public const uint KernelAlignment = 0x1000000;

    /// <summary>The boot protocol version the launcher writes: 2.07 is the first with hardware_subarch.</summary>
    public const ushort ProtocolVersion = 0x0207;

    /// <summary>X86_SUBARCH_LGUEST: the guest's head_32.S jumps to lguest_entry on seeing it.</summary>
    public const uint HardwareSubarch = 1;
}
