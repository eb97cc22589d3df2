using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Devices;

/// <summary>Adds virtio block devices to a launcher's container.</summary>
public static class VirtioBlockServiceCollectionExtensions
{
    /// <summary>Adds one block device backed by the image at <paramref name="path"/>.</summary>
    /// <param name="services">The container.</param>
    /// <param name="path">The disk image.</param>
    /// <param name="readOnly">Offer the disk read-only and open the image read-only.</param>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public static IServiceCollection AddVirtioBlock(this IServiceCollection services, string path, bool readOnly = false) =>
        services.AddVirtioBlock(o =>
        {
            o.Path = path;
            o.ReadOnly = readOnly;
        });

    /// <summary>
    /// Adds one block device configured by <paramref name="configure"/>. Each call adds one device; the
    /// devices take PCI slots in the order they are added. The image is opened at the first boot.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public static IServiceCollection AddVirtioBlock(this IServiceCollection services, Action<VirtioBlockOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new VirtioBlockOptions();
        configure(options);
        options.Validate();
        // "block0", "block1", ... in the order added, as the guest numbers them (vda, vdb, ...).
        options.Name ??= $"block{services.Count(d => d.ServiceType == typeof(VirtioBlockOptions))}";
        services.AddSingleton(options);
        services.AddSingleton<IVirtioDeviceFactory>(sp => new VirtioBlockFactory(options,
            sp.GetService<ILogger<VirtioBlockDevice>>() ?? NullLogger<VirtioBlockDevice>.Instance));
        return services;
    }
}
