using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Devices;

/// <summary>Adds virtio consoles to a launcher's container.</summary>
public static class VirtioConsoleServiceCollectionExtensions
{
    /// <summary>
    /// Adds one console, on this process's standard input and output unless <paramref name="configure"/>
    /// says otherwise. Each call adds one device; devices take PCI slots in the order they are added.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static IServiceCollection AddVirtioConsole(this IServiceCollection services, Action<VirtioConsoleOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new VirtioConsoleOptions();
        configure?.Invoke(options);
        options.Validate();
        options.Name ??= services.Any(d => d.ServiceType == typeof(VirtioConsoleOptions))
            ? $"console{services.Count(d => d.ServiceType == typeof(VirtioConsoleOptions))}"
            : "console";
        services.AddSingleton(options);
        services.AddSingleton<IVirtioDeviceFactory>(sp => new VirtioConsoleFactory(options,
            sp.GetService<ILogger<VirtioConsoleDevice>>() ?? NullLogger<VirtioConsoleDevice>.Instance));
        return services;
    }
}
