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

    /// <summary>VIRTIO_F_IN_ORDER (35): buffers are used in the order they are made available.</summary>
    public const ulong InOrder = 1UL << 35;

    /// <summary>VIRTIO_F_ORDER_PLATFORM (36): memory accesses need platform-strength barriers.</summary>
    public const ulong OrderPlatform = 1UL << 36;

    /// <summary>VIRTIO_F_SR_IOV (37): single-root I/O virtualization.</summary>
    public const ulong SrIov = 1UL << 37;

    /// <summary>VIRTIO_F_NOTIFICATION_DATA (38): the driver's notifications carry ring positions.</summary>
    public const ulong NotificationData = 1UL << 38;

    /// <summary>VIRTIO_F_NOTIF_CONFIG_DATA (39): the driver writes queue_notify_data in notifications.</summary>
    public const ulong NotifConfigData = 1UL << 39;

    /// <summary>VIRTIO_F_RING_RESET (40): queues can be reset individually.</summary>
    public const ulong RingReset = 1UL << 40;

    /// <summary>VIRTIO_F_ADMIN_VQ (41): an administration virtqueue.</summary>
    public const ulong AdminVirtqueue = 1UL << 41;

    /// <summary>
    /// Transport features the PCI transport does not implement, so it never offers them whatever a device
    /// says: notification data changes the notify write's width and meaning, ring reset and the admin
    /// queue add registers, SR-IOV needs virtual functions.
    /// </summary>
    public const ulong UnsupportedByPciTransport = SrIov | NotificationData | NotifConfigData | RingReset | AdminVirtqueue;
}
