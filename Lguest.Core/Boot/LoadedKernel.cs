using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Boot;

/// <summary>
/// What <see cref="KernelLoader.Load"/> put in guest memory and how to start it: the backend takes
/// <see cref="Boot"/>; the rest describes the load for logs, tests and later placement (ACPI, devices).
/// </summary>
public sealed class LoadedKernel
{
    internal LoadedKernel() { }

    /// <summary>The boot vCPU's entry convention, entry point and boot information pointer.</summary>
    public required BootState Boot { get; init; }

    /// <summary>What was loaded: a bzImage, an ELF vmlinux entered at e_entry, or an ELF vmlinux entered by PVH.</summary>
    public required BootProtocolKind Protocol { get; init; }

    /// <summary>The kernel file loaded.</summary>
    public required string KernelPath { get; init; }

    /// <summary>Where the kernel image starts: a bzImage's protected-mode code, or an ELF's lowest segment.</summary>
    public required GuestAddress KernelAddress { get; init; }

    /// <summary>
    /// The 32-bit entry: code32_start of a bzImage (the load address on KVM; the header's value on
    /// lguest), or e_entry of an ELF32 vmlinux. Null for an ELF64 vmlinux.
    /// </summary>
    public GuestAddress? Entry32 { get; init; }

    /// <summary>
    /// The 64-bit entry: load address + 0x200 of a bzImage whose xloadflags has XLF_KERNEL_64, or e_entry
    /// of an ELF64 vmlinux. Null when the kernel has none.
    /// </summary>
    public GuestAddress? Entry64 { get; init; }

    /// <summary>The PVH entry from the XEN_ELFNOTE_PHYS32_ENTRY note of an ELF vmlinux, when it has one (used or not).</summary>
    public GuestAddress? PvhEntry { get; init; }

    /// <summary>The NUL-terminated command line.</summary>
    public required GuestAddress CommandLineAddress { get; init; }

    /// <summary>The command line's length in bytes, without the NUL.</summary>
    public required int CommandLineLength { get; init; }

    /// <summary>Where the initrd was loaded, or null without one.</summary>
    public GuestAddress? InitrdAddress { get; init; }

    /// <summary>
    /// The initrd size told to the kernel: the file's size on KVM, rounded up to a page on lguest (as
    /// the lguest launcher did); 0 without an initrd.
    /// </summary>
    public ulong InitrdSize { get; init; }

    /// <summary>The memory map written to the zero page's e820 table or the PVH memory map.</summary>
    public required IReadOnlyList<E820Entry> MemoryMap { get; init; }

    /// <summary>Every range of guest memory the load wrote or reserved for the kernel, in address order.</summary>
    public required IReadOnlyList<BootMemoryRange> Ranges { get; init; }

    /// <summary>A bzImage's setup header as read from the file (before the loader's changes); null for an ELF vmlinux.</summary>
    public SetupHeader? ImageHeader { get; init; }
}
