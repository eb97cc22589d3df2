namespace Lguest.Virtio;

/// <summary>What a device receives at DRIVER_OK.</summary>
/// <param name="Features">The feature bits the driver accepted (a subset of those offered, with VIRTIO_F_VERSION_1).</param>
/// <param name="Queues">One entry per queue of the device, in queue order: the queue the driver enabled, or null for one it left disabled.</param>
/// <param name="Transport">Where to send interrupts and bad-driver reports while this activation lasts.</param>
public sealed record VirtioActivation(ulong Features, IReadOnlyList<Virtqueue?> Queues, IVirtioTransport Transport)
{
    /// <summary>Whether the driver accepted every bit of <paramref name="feature"/>.</summary>
    public bool HasFeature(ulong feature) => (Features & feature) == feature;
}
