namespace Lguest.Devices;

/// <summary>
/// TUN_F_* of &lt;linux/if_tun.h&gt;, the TUNSETOFFLOAD argument: what the tap may hand us, and so the guest,
/// without the host finishing it first (a partial checksum, a TSO super-frame).
/// </summary>
[Flags]
internal enum TunOffloads : uint
{
    None = 0,
    Checksum = 0x01,  // TUN_F_CSUM: frames may carry a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM)
    Tso4 = 0x02,      // TUN_F_TSO4
    Tso6 = 0x04,      // TUN_F_TSO6
    TsoEcn = 0x08,    // TUN_F_TSO_ECN
    Ufo = 0x10,       // TUN_F_UFO
}
