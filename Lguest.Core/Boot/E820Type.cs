namespace Lguest.Boot;

/// <summary>
/// Address range types of the e820 map (arch/x86/include/asm/e820/types.h); the PVH memory map
/// uses the same numbers (XEN_HVM_MEMMAP_TYPE_*, xen/include/public/arch-x86/hvm/start_info.h).
/// </summary>
public enum E820Type : uint
{
    /// <summary>E820_TYPE_RAM: usable memory.</summary>
    Ram = 1,

    /// <summary>E820_TYPE_RESERVED: not for the OS (BIOS area, EBDA).</summary>
    Reserved = 2,

    /// <summary>E820_TYPE_ACPI: ACPI tables, reclaimable once read.</summary>
    Acpi = 3,

    /// <summary>E820_TYPE_NVS: ACPI non-volatile storage.</summary>
    Nvs = 4,

    /// <summary>E820_TYPE_UNUSABLE: memory with errors.</summary>
    Unusable = 5,
}
