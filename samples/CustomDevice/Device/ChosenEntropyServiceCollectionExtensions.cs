using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CustomDevice;

/// <summary>Registers the device the way the in-tree ones are: an <see cref="IVirtioDeviceFactory"/> in the launcher's container.</summary>
public static class ChosenEntropyServiceCollectionExtensions
{
    /// <summary>
    /// Adds one <see cref="ChosenEntropyDevice"/> fed by <paramref name="source"/>. The launcher (<c>AddLguest</c>) puts
    /// every registered factory's device on the PCI bus, in registration order.
    /// </summary>
    public static IServiceCollection AddChosenEntropy(this IServiceCollection services, Action<Span<byte>> source)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(source);
        // The container's logging, when the host added any, reaches the device (its bad-driver and reset lines).
        return services.AddSingleton<IVirtioDeviceFactory>(sp => new ChosenEntropyFactory(source, sp.GetService<ILogger<ChosenEntropyDevice>>()));
    }
}
