using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Devices;

/// <summary>Adds the virtio socket device to a launcher's container.</summary>
public static class VirtioVsockServiceCollectionExtensions
{
    /// <summary>
    /// Adds the guest's vsock device (Linux: AF_VSOCK, /dev/vsock) and its host side, <see cref="VsockHost"/>
    /// (resolve it to connect to the guest and accept its connections), with Firecracker's hybrid vsock on
    /// <see cref="VirtioVsockOptions.UnixSocketPath"/> if set. A guest has at most one: Linux drives only one.
    /// The device takes the next PCI slot, in the order devices are added.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    /// <exception cref="InvalidOperationException">A vsock device was already added.</exception>
    public static IServiceCollection AddVirtioVsock(this IServiceCollection services, Action<VirtioVsockOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (services.Any(d => d.ServiceType == typeof(VirtioVsockOptions)))
            throw new InvalidOperationException("a vsock device was already added: a guest's driver takes only one");
        var options = new VirtioVsockOptions();
        configure?.Invoke(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton(sp => new VsockHost(options, sp.GetService<ILogger<VsockHost>>()));
        services.AddSingleton<IVirtioDeviceFactory>(sp => new VirtioVsockFactory(sp.GetRequiredService<VsockHost>(), options,
            sp.GetService<ILogger<VirtioVsockDevice>>() ?? NullLogger<VirtioVsockDevice>.Instance));
        return services;
    }
}
