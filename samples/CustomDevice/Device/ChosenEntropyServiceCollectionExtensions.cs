using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;

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
        return services.AddSingleton<IVirtioDeviceFactory>(new ChosenEntropyFactory(source));
    }
}
