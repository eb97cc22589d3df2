using Lguest.DevLguest;
using Lguest.Kvm;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Machine;

/// <summary>
/// Registers the backend a launcher runs on (a <see cref="HypervisorBackend"/>, one per container). Nothing is
/// opened here nor when the container resolves the launcher: the backend opens when the machine starts, and a
/// host that cannot run guests makes <see cref="Launcher.Run"/> throw <see cref="Hypervisor.HostUnavailableException"/>.
/// </summary>
public static class HypervisorServiceCollectionExtensions
{
    /// <summary>
    /// The backend <c>lguest --backend</c> would take (<see cref="HypervisorBackend.Choose"/>): by default /dev/lguest if
    /// it opens, else KVM. The choice is made when the container first resolves the backend.
    /// </summary>
    public static IServiceCollection AddHypervisor(this IServiceCollection services, HypervisorKind kind)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSingleton(_ => HypervisorBackend.Choose(kind));
        return services;
    }

    /// <summary>A backend chosen beforehand (as the CLI does, to know the machine before composing its consoles).</summary>
    public static IServiceCollection AddHypervisor(this IServiceCollection services, HypervisorBackend backend)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(backend);
        services.AddSingleton(backend);
        return services;
    }

    /// <summary>KVM (<see cref="KvmHypervisor"/>) running the PC machine, opened when the machine starts.</summary>
    public static IServiceCollection AddKvm(this IServiceCollection services, Action<KvmHypervisorOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new KvmHypervisorOptions();
        configure?.Invoke(options);
        services.AddSingleton(_ => HypervisorBackend.Kvm(options));
        return services;
    }

    /// <summary>/dev/lguest (<see cref="LguestHypervisor"/>) running the lguest machine, opened when the machine starts.</summary>
    public static IServiceCollection AddDevLguest(this IServiceCollection services, string devicePath = LguestHypervisor.DefaultDevicePath)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(devicePath);
        services.AddSingleton(_ => HypervisorBackend.DevLguest(devicePath));
        return services;
    }
}
