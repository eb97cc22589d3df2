using Lguest.Hypervisor;
using Lguest.Machine;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Kvm;

/// <summary>Registers the KVM backend as the container's <see cref="IHypervisor"/>.</summary>
public static class KvmServiceCollectionExtensions
{
    /// <summary>Adds <see cref="KvmHypervisor"/>, opened when first resolved, and the machine it runs (<see cref="MachineProfile.Pc"/>).</summary>
    public static IServiceCollection AddKvm(this IServiceCollection services, Action<KvmHypervisorOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new KvmHypervisorOptions();
        configure?.Invoke(options);
        services.AddSingleton(_ => KvmHypervisor.Open(options));
        services.AddSingleton<IHypervisor>(sp => sp.GetRequiredService<KvmHypervisor>());
        services.AddSingleton(MachineProfile.Pc);
        return services;
    }
}
