namespace Lguest.Virtio;

/// <summary>Device-independent feature bits, virtio 1.2 §6 ("Reserved Feature Bits").</summary>
public static class VirtioFeatures
{
    /// <summary>VIRTIO_F_INDIRECT_DESC (28): the driver may use indirect descriptor tables, §2.7.5.3.</summary>
    public const ulong RingIndirectDescriptors = 1UL << 28;

    /// <summary>VIRTIO_F_EVENT_IDX (29): used_event / avail_event suppression, §2.7.7 and §2.7.10.</summary>
    public const ulong RingEventIndex = 1UL << 29;

    /// <summary>VIRTIO_F_VERSION_1 (32): a virtio 1.x (non-legacy) device; required by the modern transport.</summary>
    public const ulong Version1 = 1UL << 32;

    /// <summary>VIRTIO_F_ACCESS_PLATFORM (33): the device goes through an IOMMU; never offered here.</summary>
    public const ulong AccessPlatform = 1UL << 33;

    /// <summary>VIRTIO_F_RING_PACKED (34): the packed virtqueue layout; not offered (split rings only).</summary>
    public const ulong RingPacked = 1UL << 34;
}
