using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Lguest.Machine;

/// <summary>
/// Composes a launcher from the container: <see cref="AddLguest"/>, what to boot (<see cref="AddKernel"/>), device
/// plugins (<c>AddVirtioBlock</c>, ...), and optionally the backend (<c>AddKvm</c>, <c>AddHypervisor</c>; by default
/// the automatic choice). Then <c>provider.GetRequiredService&lt;Launcher&gt;()</c> and <see cref="Launcher.RunAsync"/>.
/// </summary>
/// <example>
/// <code>
/// var services = new ServiceCollection()
///     .AddLguest(o => o.MemoryBytes = 256UL &lt;&lt; 20)
///     .AddKernel("vmlinuz", "initrd.img", "console=ttyS0")
///     .AddVirtioBlock("disk.img")
///     .AddVirtioRng();
/// using ServiceProvider provider = services.BuildServiceProvider();
/// GuestExit exit = await provider.GetRequiredService&lt;Launcher&gt;().RunAsync(cancellation);
/// </code>
/// </example>
public static class LguestServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <see cref="Launcher"/> with its options. The container must also hold an <see cref="IBootImage"/>
    /// (<see cref="AddKernel"/>) unless the launcher restores a snapshot (<see cref="LauncherOptions.RestoreFrom"/>); the backend is the one registered (<c>AddKvm</c>, <c>AddDevLguest</c>,
    /// <c>AddHypervisor</c>), or else the automatic choice (<see cref="HypervisorKind.Auto"/>), opened when the
    /// machine starts. Every <see cref="IPlatformDeviceFactory"/> registered (in order) adds devices to each boot,
    /// then every <see cref="IVirtioDeviceFactory"/> registered (in order) adds a virtio PCI device through
    /// <see cref="VirtioPciDeviceFactory"/>, so the virtio devices' PCI slots follow their registration order.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static IServiceCollection AddLguest(this IServiceCollection services, Action<LauncherOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new LauncherOptions();
        configure?.Invoke(options);
        options.Validate();
        services.AddSingleton(options);
        services.TryAddSingleton(_ => HypervisorBackend.Choose(HypervisorKind.Auto));
        services.AddSingleton(sp => new Launcher(
            sp.GetRequiredService<HypervisorBackend>(),
            options.RestoreFrom is null ? sp.GetRequiredService<IBootImage>() : sp.GetService<IBootImage>(),
            options,
            sp.GetServices<IPlatformDeviceFactory>().Concat(
                sp.GetServices<IVirtioDeviceFactory>().Select(f => new VirtioPciDeviceFactory(f))),
            sp.GetService<ILoggerFactory>()));
        return services;
    }

    /// <summary>
    /// Boots a Linux kernel (bzImage or ELF vmlinux) with an optional initrd and a command line: a
    /// <see cref="KernelBootImage"/> as the container's <see cref="IBootImage"/>. The files are opened at the first
    /// boot (a missing one fails the run with a <see cref="Boot.KernelImageException"/>) and kept open for reboots.
    /// </summary>
    public static IServiceCollection AddKernel(this IServiceCollection services, string kernel, string? initrd = null, string commandLine = "")
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(kernel);
        services.AddSingleton<IBootImage>(_ => new KernelBootImage(kernel, initrd, commandLine));
        return services;
    }
}
