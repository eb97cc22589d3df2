using Lguest.Memory;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Boot;

/// <summary>What to load and for which platform: the input of <see cref="KernelLoader.Load"/>.</summary>
public sealed class KernelLoadOptions
{
    /// <summary>The kernel: a bzImage or an ELF vmlinux.</summary>
    public required string KernelPath { get; init; }

    /// <summary>An initial RAM disk to load with the kernel, or null.</summary>
    public string? InitrdPath { get; init; }

    /// <summary>The kernel command line; at most the kernel's cmdline_size bytes in UTF-8, without NUL characters.</summary>
    public string CommandLine { get; init; } = "";

    /// <summary>The machine the kernel is loaded for.</summary>
    public BootPlatform Platform { get; init; } = BootPlatform.Pc;

    /// <summary>
    /// On <see cref="BootPlatform.Pc"/>, enter an ELF vmlinux that has a PVH entry (XEN_ELFNOTE_PHYS32_ENTRY)
    /// there, with hvm_start_info, rather than at e_entry with the zero page. Default true.
    /// </summary>
    public bool PreferPvh { get; init; } = true;

    /// <summary>
    /// The ACPI RSDP to publish to the kernel (boot_params.acpi_rsdp_addr from protocol 2.14, and
    /// hvm_start_info.rsdp_paddr), or null when the platform has no ACPI tables.
    /// </summary>
    public GuestAddress? AcpiRsdpAddress { get; init; }

    /// <summary>The kernel, already open (read from the start, not taken over); null to open <see cref="KernelPath"/>.</summary>
    internal SafeFileHandle? KernelHandle { get; init; }

    /// <summary>The initrd, already open; null to open <see cref="InitrdPath"/>.</summary>
    internal SafeFileHandle? InitrdHandle { get; init; }
}
