namespace Lguest.Boot;

/// <summary>
/// Where the KVM platform puts its boot structures in the guest's first megabyte, shared by the
/// kernel loader (which writes the zero page, the PVH start info and the command line) and the KVM
/// backend (which writes the GDT, the boot stack and the identity page tables). Everything here is
/// below 1 MiB and below the EBDA, so no kernel (loaded at 1 MiB or above) and no initrd overlaps it.
/// </summary>
/// <remarks>
/// The map follows the PC conventions QEMU and Firecracker use: conventional RAM up to the EBDA at
/// 0x9fc00, then the reserved legacy area (EBDA, VGA hole, option ROMs, BIOS) up to 1 MiB, where
/// ACPI tables live at <see cref="AcpiTables"/>.
/// </remarks>
public static class PcLowMemory
{
    /// <summary>The GDT the backend loads for the 32- and 64-bit entries (backend).</summary>
    public const ulong Gdt = 0x500;

    /// <summary>The PVH hvm_start_info (loader); its memory map and module list follow it, before <see cref="ZeroPage"/>.</summary>
    public const ulong StartInfo = 0x6000;

    /// <summary>The zero page, struct boot_params (loader).</summary>
    public const ulong ZeroPage = 0x7000;

    /// <summary>The boot stack's top, RSP/ESP at entry (backend); it grows down through the page between the zero page and the page tables.</summary>
    public const ulong BootStackTop = 0x8ff0;

    /// <summary>
    /// The identity page tables (backend): PML4 at 0x9000, PDPT at 0xa000 and four page directories
    /// from 0xb000 mapping the first 4 GiB with 2 MiB pages.
    /// </summary>
    public const ulong PageTables = 0x9000;

    /// <summary>The first byte past the page tables.</summary>
    public const ulong PageTablesEnd = 0xF000;

    /// <summary>The kernel command line (loader), NUL-terminated.</summary>
    public const ulong CommandLine = 0x20000;

    /// <summary>The end of the room for the command line: the EBDA.</summary>
    public const ulong CommandLineEnd = Ebda;

    /// <summary>The extended BIOS data area: conventional RAM ends here and the reserved legacy area begins (e820).</summary>
    public const ulong Ebda = 0x9FC00;

    /// <summary>Where the ACPI tables live, inside the reserved legacy area.</summary>
    public const ulong AcpiTables = 0xE0000;

    /// <summary>1 MiB: the end of the legacy area, where RAM resumes and kernels are loaded.</summary>
    public const ulong HighMemory = 0x100000;
}
