using Lguest.Boot;
using Lguest.Hypervisor;
using Lguest.Memory;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Machine;

/// <summary>
/// A Linux kernel (bzImage or ELF vmlinux) with its initrd and command line, loaded by <see cref="KernelLoader"/>
/// on every boot for the platform the machine asks for. The files are opened on the first boot and kept open
/// until disposed, so a reboot loads the same files even after the launcher chrooted or dropped privileges
/// (the seed re-executed itself and opened them again).
/// </summary>
public sealed class KernelBootImage : IBootImage, IDisposable
{
    private readonly Lock _lock = new();
    private SafeFileHandle? _kernel;
    private SafeFileHandle? _initrd;

    /// <summary>Creates the image; nothing is opened until the first boot.</summary>
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
    public BootState Load(GuestMemory memory, BootTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        lock (_lock)
        {
            _kernel ??= KernelFile.OpenHandle(KernelPath);
            if (InitrdPath is not null)
                _initrd ??= KernelFile.OpenHandle(InitrdPath);
            Loaded = KernelLoader.Load(memory, new KernelLoadOptions
            {
                KernelPath = KernelPath,
                InitrdPath = InitrdPath,
                CommandLine = CommandLine,
                Platform = target.Platform,
                AcpiRsdpAddress = target.AcpiRsdp,
                KernelHandle = _kernel,
                InitrdHandle = _initrd,
            });
            return Loaded.Boot;
        }
    }

    /// <summary>Closes the kernel and initrd files.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _kernel?.Dispose();
            _initrd?.Dispose();
            _kernel = _initrd = null;
        }
    }
}
