using Lguest.Hypervisor;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.DevLguest;

/// <summary>Registers the /dev/lguest backend as the container's <see cref="IHypervisor"/>.</summary>
public static class DevLguestServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="LguestHypervisor"/>, opened when first resolved; resolving it on a host without
    /// /dev/lguest throws a <see cref="HypervisorException"/> saying so.
    /// </summary>
    public static IServiceCollection AddDevLguest(this IServiceCollection services, string devicePath = LguestHypervisor.DefaultDevicePath)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(devicePath);
        services.AddSingleton(_ => LguestHypervisor.Open(devicePath));
        services.AddSingleton<IHypervisor>(sp => sp.GetRequiredService<LguestHypervisor>());
        return services;
    }
}
