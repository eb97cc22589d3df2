namespace Lguest.Devices;

/// <summary>virtio-net feature bits, virtio 1.2 §5.1.3 (the ones this device offers, and a few it refuses).</summary>
public static class VirtioNetFeatures
{
    /// <summary>VIRTIO_NET_F_CSUM (0): the device takes frames with a partial checksum (transmit).</summary>
    public const ulong Checksum = 1UL << 0;

    /// <summary>VIRTIO_NET_F_GUEST_CSUM (1): the driver takes frames with a partial checksum (receive).</summary>
    public const ulong GuestChecksum = 1UL << 1;

    /// <summary>VIRTIO_NET_F_MTU (3): the configuration's mtu field is valid; not offered.</summary>
    public const ulong Mtu = 1UL << 3;

    /// <summary>VIRTIO_NET_F_MAC (5): the configuration's mac field is the card's address.</summary>
    public const ulong Mac = 1UL << 5;

    /// <summary>VIRTIO_NET_F_GUEST_TSO4 (7): the driver takes IPv4 TCP super-frames.</summary>
    public const ulong GuestTso4 = 1UL << 7;

    /// <summary>VIRTIO_NET_F_GUEST_TSO6 (8): the driver takes IPv6 TCP super-frames.</summary>
    public const ulong GuestTso6 = 1UL << 8;

    /// <summary>VIRTIO_NET_F_GUEST_ECN (9): the driver takes TCP super-frames with ECN.</summary>
    public const ulong GuestEcn = 1UL << 9;

    /// <summary>VIRTIO_NET_F_GUEST_UFO (10): the driver takes UDP fragmentation offload; not offered.</summary>
    public const ulong GuestUfo = 1UL << 10;

    /// <summary>VIRTIO_NET_F_HOST_TSO4 (11): the device segments IPv4 TCP super-frames (transmit).</summary>
    public const ulong HostTso4 = 1UL << 11;

    /// <summary>VIRTIO_NET_F_HOST_TSO6 (12): the device segments IPv6 TCP super-frames (transmit).</summary>
    public const ulong HostTso6 = 1UL << 12;

    /// <summary>VIRTIO_NET_F_HOST_ECN (13): the device segments TCP super-frames with ECN (transmit).</summary>
    public const ulong HostEcn = 1UL << 13;

    /// <summary>VIRTIO_NET_F_HOST_UFO (14): the device fragments UDP (transmit); not offered.</summary>
    public const ulong HostUfo = 1UL << 14;

    /// <summary>VIRTIO_NET_F_MRG_RXBUF (15): a received frame may span several receive chains.</summary>
    public const ulong MergeableRxBuffers = 1UL << 15;

    /// <summary>VIRTIO_NET_F_STATUS (16): the configuration's status field is valid.</summary>
    public const ulong Status = 1UL << 16;

    /// <summary>VIRTIO_NET_F_CTRL_VQ (17): a control queue; not offered.</summary>
    public const ulong ControlQueue = 1UL << 17;

    /// <summary>The checksum and segmentation offloads, both directions: what <see cref="VirtioNetOptions.Offloads"/> switches.</summary>
    public const ulong AllOffloads = Checksum | GuestChecksum | GuestTso4 | GuestTso6 | GuestEcn | HostTso4 | HostTso6 | HostEcn;

    /// <summary>VIRTIO_NET_S_LINK_UP: the status bit for a link that is up.</summary>
    public const ushort StatusLinkUp = 1;
}
