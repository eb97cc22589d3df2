namespace Lguest.Cli.Api;

/// <summary>PUT /boot-source (Firecracker's BootSource): the kernel to boot, its command line, an initrd. Pre-boot only.</summary>
/// <param name="KernelImagePath">The kernel on the host (bzImage or ELF vmlinux).</param>
/// <param name="BootArgs">The kernel command line; null for Firecracker's default.</param>
/// <param name="InitrdPath">An initial RAM disk on the host, or null.</param>
internal sealed record BootSource(string KernelImagePath, string? BootArgs = null, string? InitrdPath = null)
{
    /// <summary>
    /// The command line when the client gives none: Firecracker's reboot and panic settings. Its default also turns the
    /// serial ports and modules off, which would leave a stock kernel mute and without its virtio drivers here.
    /// </summary>
    public const string DefaultBootArgs = "reboot=k panic=1";

    /// <summary>Why the boot source cannot be used, or null: the files must exist now, as Firecracker opens them at PUT.</summary>
    public string? Validate()
    {
        if (ApiFiles.CannotOpen(KernelImagePath) is { } kernel)
            return $"The kernel file cannot be opened: {kernel}";
        if (InitrdPath is not null && ApiFiles.CannotOpen(InitrdPath) is { } initrd)
            return $"The initrd file cannot be opened: {initrd}";
        return null;
    }
}
