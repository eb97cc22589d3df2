using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Devices;

/// <summary>Adds virtio entropy devices to a launcher's container.</summary>
public static class VirtioRngServiceCollectionExtensions
{
    /// <summary>
    /// Adds one entropy device (Linux: /dev/hwrng) fed from the host's cryptographic random source.
    /// Each call adds one device; devices take PCI slots in the order they are added.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static IServiceCollection AddVirtioRng(this IServiceCollection services, Action<VirtioRngOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new VirtioRngOptions();
        configure?.Invoke(options);
        options.Validate();
        options.Name ??= services.Any(d => d.ServiceType == typeof(VirtioRngOptions))
            ? $"rng{services.Count(d => d.ServiceType == typeof(VirtioRngOptions))}"
            : "rng";
        services.AddSingleton(options);
        services.AddSingleton<IVirtioDeviceFactory>(sp => new VirtioRngFactory(options,
            sp.GetService<ILogger<VirtioRngDevice>>() ?? NullLogger<VirtioRngDevice>.Instance));
        return services;
    }
}
