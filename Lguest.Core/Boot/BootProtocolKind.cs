namespace Lguest.Boot;

/// <summary>What was loaded and how the kernel is entered; the CPU mode is in <see cref="LoadedKernel.Boot"/>.</summary>
public enum BootProtocolKind
{
    /// <summary>A bzImage by the x86 Linux boot protocol, entered at its 32- or 64-bit entry with the zero page.</summary>
    BzImage,

    /// <summary>An ELF vmlinux loaded by its program headers, entered at e_entry with the zero page.</summary>
    ElfVmlinux,

    /// <summary>An ELF vmlinux entered at its PVH entry (XEN_ELFNOTE_PHYS32_ENTRY) with hvm_start_info.</summary>
    Pvh,
}
