using Lguest.Boot;
using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Machine;

/// <summary>A Linux kernel (bzImage or ELF vmlinux) with its initrd and command line, loaded by <see cref="KernelLoader"/> on every boot.</summary>
public sealed class KernelBootImage : IBootImage
{
    /// <summary>Creates the image; nothing is read until the first boot.</summary>
    public KernelBootImage(string kernelPath, string? initrdPath = null, string commandLine = "")
    {
        ArgumentException.ThrowIfNullOrEmpty(kernelPath);
        KernelPath = kernelPath;
        InitrdPath = initrdPath;
        CommandLine = commandLine ?? "";
    }

    /// <summary>The kernel file.</summary>
    public string KernelPath { get; }

    /// <summary>The initrd file, or null.</summary>
    public string? InitrdPath { get; }

    /// <summary>The kernel command line.</summary>
    public string CommandLine { get; }

    /// <summary>What the last boot loaded: where the kernel, command line and initrd went, the memory map.</summary>
    public LoadedKernel? Loaded { get; private set; }

    /// <inheritdoc />
    /// <exception cref="KernelImageException">The kernel or initrd is missing, unreadable, not a kernel, or does not fit.</exception>
    public BootState Load(GuestMemory memory, GuestAddress acpiRsdp)
    {
        Loaded = KernelLoader.Load(memory, new KernelLoadOptions
        {
            KernelPath = KernelPath,
            InitrdPath = InitrdPath,
            CommandLine = CommandLine,
            Platform = BootPlatform.Kvm,
            AcpiRsdpAddress = acpiRsdp,
        });
        return Loaded.Boot;
    }
}
