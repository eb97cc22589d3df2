using Lguest.Virtio;

namespace Lguest.Devices;

/// <summary>
/// What the card offers, whether what the driver accepted hangs together (virtio 1.2 §5.1.3.1), and
/// what follows from it for the tap and for the buffers a received frame needs.
/// </summary>
internal static class VirtioNetNegotiation
{
    /// <summary>The largest frame the guest can be handed with receive segmentation offload: 64 KiB of IP plus Ethernet (§5.1.6.3).</summary>
    public const int MaxGsoFrame = 65550;

    /// <summary>Ethernet header plus a VLAN tag: what a frame adds to the MTU.</summary>
    public const int EthernetOverhead = 14 + 4;

    /// <summary>The largest transmit chain accepted: the largest frame plus its header (§5.1.6.2: 65550 + 12).</summary>
    public const ulong MaxTransmitLength = MaxGsoFrame + VirtioNetHeader.Size;

    /// <summary>The smallest frame the tap accepts: an Ethernet header.</summary>
    public const int MinFrame = 14;

    // §5.1.3.1: each feature and the one(s) it requires (any of them).
    private static readonly (ulong Feature, ulong RequiresAny)[] Requirements =
    [
        (VirtioNetFeatures.GuestTso4, VirtioNetFeatures.GuestChecksum),
        (VirtioNetFeatures.GuestTso6, VirtioNetFeatures.GuestChecksum),
        (VirtioNetFeatures.GuestEcn, VirtioNetFeatures.GuestTso4 | VirtioNetFeatures.GuestTso6),
        (VirtioNetFeatures.GuestUfo, VirtioNetFeatures.GuestChecksum),
        (VirtioNetFeatures.HostTso4, VirtioNetFeatures.Checksum),
        (VirtioNetFeatures.HostTso6, VirtioNetFeatures.Checksum),
        (VirtioNetFeatures.HostEcn, VirtioNetFeatures.HostTso4 | VirtioNetFeatures.HostTso6),
        (VirtioNetFeatures.HostUfo, VirtioNetFeatures.Checksum),
    ];

    /// <summary>The device features offered for <paramref name="options"/>; the transport adds VIRTIO_F_VERSION_1.</summary>
    public static ulong Offered(VirtioNetOptions options)
    {
        ulong features = VirtioNetFeatures.Mac | VirtioNetFeatures.Status
            | VirtioFeatures.RingEventIndex | VirtioFeatures.RingIndirectDescriptors;
        if (options.Offloads)
            features |= VirtioNetFeatures.AllOffloads;
        if (options.MergeableRxBuffers)
            features |= VirtioNetFeatures.MergeableRxBuffers;
        return features;
    }

    /// <summary>
    /// Null when <paramref name="accepted"/> respects §5.1.3.1 ("the driver MUST NOT accept a feature which
    /// requires another feature which was not accepted"), otherwise what is wrong.
    /// </summary>
    public static string? DependencyError(ulong accepted)
    {
        foreach ((ulong feature, ulong requiresAny) in Requirements)
        {
            if ((accepted & feature) != 0 && (accepted & requiresAny) == 0)
                return $"accepted feature bit {System.Numerics.BitOperations.TrailingZeroCount(feature)} without bit(s) 0x{requiresAny:x} it requires";
        }
        return null;
    }

    /// <summary>
    /// The TUNSETOFFLOAD flags for a driver that accepted <paramref name="accepted"/>: the host may hand it
    /// partial checksums only with GUEST_CSUM, super-frames only with the matching GUEST_TSO bit.
    /// </summary>
    public static TunOffloads TapOffloads(ulong accepted)
    {
        if ((accepted & VirtioNetFeatures.GuestChecksum) == 0)
            return TunOffloads.None; // the kernel refuses TSO without TUN_F_CSUM, and so does §5.1.3.1
        TunOffloads offloads = TunOffloads.Checksum;
        if ((accepted & VirtioNetFeatures.GuestTso4) != 0)
            offloads |= TunOffloads.Tso4;
        if ((accepted & VirtioNetFeatures.GuestTso6) != 0)
            offloads |= TunOffloads.Tso6;
        if ((accepted & VirtioNetFeatures.GuestEcn) != 0 && (offloads & (TunOffloads.Tso4 | TunOffloads.Tso6)) != 0)
            offloads |= TunOffloads.TsoEcn;
        if ((accepted & VirtioNetFeatures.GuestUfo) != 0)
            offloads |= TunOffloads.Ufo;
        return offloads;
    }

    /// <summary>
    /// The most bytes one received frame can need, header included: a super-frame when the guest takes
    /// receive segmentation, else an MTU-sized frame with a VLAN tag (§5.1.6.3's 65562 and 1526 bytes,
    /// the latter grown for a tap whose MTU is above 1500).
    /// </summary>
    public static int ReceiveFrameLimit(ulong accepted, int tapMtu)
    {
        bool gso = (accepted & (VirtioNetFeatures.GuestTso4 | VirtioNetFeatures.GuestTso6 | VirtioNetFeatures.GuestUfo)) != 0;
        int frame = Math.Max(1500, tapMtu) + EthernetOverhead;
        return VirtioNetHeader.Size + (gso ? Math.Max(MaxGsoFrame, frame) : frame);
    }

    /// <summary>
    /// Null when a transmit header respects the features the driver accepted (§5.1.6.2.1: it MUST NOT
    /// ask for a checksum or segmentation the device did not agree to), otherwise why it is refused.
    /// Flag bits other than NEEDS_CSUM are not checked: §5.1.6.2.2 has the device ignore them (the
    /// caller clears them in its copy of the header).
    /// </summary>
    public static string? TransmitHeaderError(in VirtioNetHeader header, ulong accepted)
    {
        if ((header.Flags & VirtioNetHeader.FlagNeedsChecksum) != 0 && (accepted & VirtioNetFeatures.Checksum) == 0)
            return "partial checksum without VIRTIO_NET_F_CSUM";
        ulong needed = header.GsoKind switch
        {
            VirtioNetHeader.GsoNone => 0,
            VirtioNetHeader.GsoTcpV4 => VirtioNetFeatures.HostTso4,
            VirtioNetHeader.GsoTcpV6 => VirtioNetFeatures.HostTso6,
            VirtioNetHeader.GsoUdp => VirtioNetFeatures.HostUfo,
            _ => ulong.MaxValue,
        };
        if (needed == ulong.MaxValue)
            return $"gso_type 0x{header.GsoType:x}";
        if ((accepted & needed) != needed)
            return $"gso_type 0x{header.GsoType:x} not negotiated";
        if ((header.GsoType & VirtioNetHeader.GsoEcn) != 0
            && (header.GsoKind == VirtioNetHeader.GsoNone || (accepted & VirtioNetFeatures.HostEcn) == 0))
            return "ECN segmentation not negotiated";
        return null;
    }
}
