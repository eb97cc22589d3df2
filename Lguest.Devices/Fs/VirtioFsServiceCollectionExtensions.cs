using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Devices;

/// <summary>Adds shared folders (virtio-fs devices) to a launcher's container.</summary>
public static class VirtioFsServiceCollectionExtensions
{
    /// <summary>Shares <paramref name="hostDirectory"/> with the guest, which mounts it with <c>mount -t virtiofs TAG DIR</c>.</summary>
    /// <param name="services">The container.</param>
    /// <param name="hostDirectory">The host folder.</param>
    /// <param name="tag">The name the guest mounts it by (1 to 36 bytes).</param>
    /// <param name="readOnly">Refuse every change with EROFS.</param>
    /// <exception cref="ArgumentException">The folder or tag is invalid.</exception>
    public static IServiceCollection AddVirtioFs(this IServiceCollection services, string hostDirectory, string tag, bool readOnly = false) =>
        services.AddVirtioFs(o =>
        {
            o.HostDirectory = hostDirectory;
            o.Tag = tag;
            o.ReadOnly = readOnly;
        });

    /// <summary>
    /// Adds one shared folder configured by <paramref name="configure"/>. Each call adds one device; the devices
    /// take PCI slots in the order they are added. The folder is opened at the first boot.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid, or the tag is already used; the message names it.</exception>
    public static IServiceCollection AddVirtioFs(this IServiceCollection services, Action<VirtioFsOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new VirtioFsOptions();
        configure(options);
        options.Validate();
        VirtioFsOptions[] earlier = services.Where(d => d.ServiceType == typeof(VirtioFsOptions))
            .Select(d => d.ImplementationInstance).OfType<VirtioFsOptions>().ToArray();
        // The guest finds a share by its tag: two alike would make one of them unreachable.
        if (earlier.Any(o => o.Tag == options.Tag))
            throw new ArgumentException($"the tag '{options.Tag}' is already used by another shared folder", nameof(configure));
        options.Name ??= $"fs{earlier.Length}";
        services.AddSingleton(options);
        services.AddSingleton<IVirtioDeviceFactory>(sp => new VirtioFsFactory(options,
            sp.GetService<ILogger<VirtioFsDevice>>() ?? NullLogger<VirtioFsDevice>.Instance));
        return services;
    }
}
