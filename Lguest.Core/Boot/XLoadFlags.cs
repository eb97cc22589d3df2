namespace Lguest.Boot;

/// <summary>setup_header.xloadflags bits (protocol 2.12+), Documentation/x86/boot.rst.</summary>
[Flags]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711", Justification = "The boot protocol names the field xloadflags.")]
public enum XLoadFlags : ushort
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>XLF_KERNEL_64: the kernel has the legacy 64-bit entry point at load address + 0x200.</summary>
    Kernel64 = 1 << 0,

    /// <summary>XLF_CAN_BE_LOADED_ABOVE_4G: the kernel, boot_params, command line and initrd may live above 4 GiB.</summary>
    CanBeLoadedAbove4G = 1 << 1,

    /// <summary>XLF_EFI_HANDOVER_32: the 32-bit EFI handover entry exists.</summary>
    EfiHandover32 = 1 << 2,

    /// <summary>XLF_EFI_HANDOVER_64: the 64-bit EFI handover entry exists.</summary>
    EfiHandover64 = 1 << 3,

    /// <summary>XLF_EFI_KEXEC: the kernel supports kexec EFI boot with EFI runtime support.</summary>
    EfiKexec = 1 << 4,

    /// <summary>XLF_5LEVEL: the kernel supports 5-level paging.</summary>
    FiveLevel = 1 << 5,

    /// <summary>XLF_5LEVEL_ENABLED: the kernel has 5-level paging enabled.</summary>
    FiveLevelEnabled = 1 << 6,
}
