using Lguest.Hypervisor;
using Lguest.Machine;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.DevLguest;

/// <summary>Registers the /dev/lguest backend as the container's <see cref="IHypervisor"/>, with the machine it runs.</summary>
public static class DevLguestServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="LguestHypervisor"/>, opened when first resolved, and <see cref="MachineProfile.Lguest"/>;
    /// resolving it on a host without /dev/lguest throws a <see cref="HypervisorException"/> saying so.
    /// </summary>
    public static IServiceCollection AddDevLguest(this IServiceCollection services, string devicePath = LguestHypervisor.DefaultDevicePath)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(devicePath);
        services.AddSingleton(_ => LguestHypervisor.Open(devicePath));
        return services.AddLguestMachine();
    }

    /// <summary>
    /// Adds an already opened <paramref name="hypervisor"/> (from <see cref="LguestHypervisor.TryOpen"/>, as a
    /// launcher choosing its backend does) and <see cref="MachineProfile.Lguest"/>. The container disposes it.
    /// </summary>
    public static IServiceCollection AddDevLguest(this IServiceCollection services, LguestHypervisor hypervisor)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(hypervisor);
        services.AddSingleton(_ => hypervisor);
        return services.AddLguestMachine();
    }

    private static IServiceCollection AddLguestMachine(this IServiceCollection services)
    {
        services.AddSingleton<IHypervisor>(sp => sp.GetRequiredService<LguestHypervisor>());
        services.AddSingleton(MachineProfile.Lguest);
        return services;
    }
}
