using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Devices;

/// <summary>Adds virtio network cards to a launcher's container.</summary>
public static class VirtioNetServiceCollectionExtensions
{
    /// <summary>Adds one network card on a new tap configured as <paramref name="tunnet"/> says (the seed's <c>--tunnet</c>).</summary>
    /// <param name="services">The container.</param>
    /// <param name="tunnet">The host end's address or bridge, and the guest's MAC address if given.</param>
    public static IServiceCollection AddVirtioNet(this IServiceCollection services, TunnetSpec tunnet)
    {
        ArgumentNullException.ThrowIfNull(tunnet);
        return services.AddVirtioNet(o => o.Tunnet = tunnet);
    }

    /// <summary>
    /// Adds one network card configured by <paramref name="configure"/>. Each call adds one card; the
    /// cards take PCI slots in the order they are added. The tap is created at the first boot.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static IServiceCollection AddVirtioNet(this IServiceCollection services, Action<VirtioNetOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new VirtioNetOptions();
        configure(options);
        options.Validate();
        // "net0", "net1", ... in the order added, as the guest numbers its interfaces.
        options.Name ??= $"net{services.Count(d => d.ServiceType == typeof(VirtioNetOptions))}";
        services.AddSingleton(options);
        services.AddSingleton<IVirtioDeviceFactory>(sp => new VirtioNetFactory(options,
            sp.GetService<ILogger<VirtioNetDevice>>() ?? NullLogger<VirtioNetDevice>.Instance));
        return services;
    }
}
