using Lguest.Hypervisor;
using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lguest.Machine;

/// <summary>Composes a launcher from the container: a backend (<c>AddKvm</c>, <c>AddDevLguest</c>), an <see cref="IBootImage"/>, device plugins.</summary>
public static class LguestServiceCollectionExtensions
{
    /// <summary>
    /// Adds the <see cref="Launcher"/> with its options. The container must also hold an
    /// <see cref="IHypervisor"/> and an <see cref="IBootImage"/>; the backend's registration also adds the
    /// <see cref="MachineProfile"/> it runs (the PC when none is registered). Every <see cref="IPlatformDeviceFactory"/>
    /// registered (in order) adds devices to each boot, then every <see cref="IVirtioDeviceFactory"/>
    /// registered (in order) adds a virtio PCI device through <see cref="VirtioPciDeviceFactory"/>, so the
    /// virtio devices' PCI slots follow their registration order.
    /// </summary>
    public static IServiceCollection AddLguest(this IServiceCollection services, Action<LauncherOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new LauncherOptions();
        configure(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton(sp => new Launcher(
            sp.GetRequiredService<IHypervisor>(),
            sp.GetRequiredService<IBootImage>(),
            options,
            sp.GetServices<IPlatformDeviceFactory>().Concat(
                sp.GetServices<IVirtioDeviceFactory>().Select(f => new VirtioPciDeviceFactory(f))),
            sp.GetService<ILoggerFactory>(),
            sp.GetService<MachineProfile>()));
        return services;
    }

    /// <summary>Adds a device factory; registration order is the order devices are created in, so slots stay stable.</summary>
    public static IServiceCollection AddPlatformDevice(this IServiceCollection services, IPlatformDeviceFactory factory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(factory);
        services.AddSingleton(factory);
        return services;
    }
}
