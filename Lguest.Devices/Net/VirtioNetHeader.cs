using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>
/// struct virtio_net_hdr_v1, virtio 1.2 §5.1.6: the 12 bytes before every frame in both queues (and,
/// with IFF_VNET_HDR and TUNSETVNETHDRSZ 12, before every frame on the tap). Little-endian, as a
/// VIRTIO_F_VERSION_1 device requires.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtioNetHeader
{
    /// <summary>The header's size with num_buffers: what a virtio 1.x device always uses.</summary>
    public const int Size = 12;

    /// <summary>The offset of num_buffers, which the device fills on receive.</summary>
    public const int NumBuffersOffset = 10;

    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum from csum_start to the end is partial.</summary>
    public const byte FlagNeedsChecksum = 1;

    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID: the checksum was verified (receive only).</summary>
    public const byte FlagDataValid = 2;

    /// <summary>VIRTIO_NET_HDR_F_RSC_INFO: receive segment coalescing counts in the checksum fields (receive only).</summary>
    public const byte FlagRscInfo = 4;

    /// <summary>VIRTIO_NET_HDR_GSO_NONE: not a segmentation offload frame.</summary>
    public const byte GsoNone = 0;

    /// <summary>VIRTIO_NET_HDR_GSO_TCPV4: an IPv4 TCP super-frame to segment (TSO).</summary>
    public const byte GsoTcpV4 = 1;

    /// <summary>VIRTIO_NET_HDR_GSO_UDP: an IPv4 UDP datagram to fragment (UFO).</summary>
    public const byte GsoUdp = 3;

    /// <summary>VIRTIO_NET_HDR_GSO_TCPV6: an IPv6 TCP super-frame to segment.</summary>
    public const byte GsoTcpV6 = 4;

    /// <summary>VIRTIO_NET_HDR_GSO_UDP_L4: UDP segmentation (USO); never offered here.</summary>
    public const byte GsoUdpL4 = 5;

    /// <summary>VIRTIO_NET_HDR_GSO_ECN: the TCP super-frame has ECN (CWR) set, and its segments must too.</summary>
    public const byte GsoEcn = 0x80;

    /// <summary>flags: VIRTIO_NET_HDR_F_*.</summary>
    public byte Flags;

    /// <summary>gso_type: VIRTIO_NET_HDR_GSO_*, with <see cref="GsoEcn"/> or'ed in.</summary>
    public byte GsoType;

    /// <summary>hdr_len: the length of the Ethernet, IP and TCP/UDP headers (a hint).</summary>
    public ushort HeaderLength;

    /// <summary>gso_size: the payload per segment.</summary>
    public ushort GsoSize;

    /// <summary>csum_start: where checksumming starts.</summary>
    public ushort ChecksumStart;

    /// <summary>csum_offset: where after csum_start the checksum goes.</summary>
    public ushort ChecksumOffset;

    /// <summary>num_buffers: how many receive chains the frame spans (1 without VIRTIO_NET_F_MRG_RXBUF).</summary>
    public ushort NumBuffers;

    /// <summary>The segmentation type without the ECN bit.</summary>
    public readonly byte GsoKind => (byte)(GsoType & ~GsoEcn);
}
