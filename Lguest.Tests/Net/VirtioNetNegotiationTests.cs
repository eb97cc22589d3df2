using Lguest.Devices;
using Lguest.Virtio;
using F = Lguest.Devices.VirtioNetFeatures;

namespace Lguest.Tests.Net;

public class VirtioNetNegotiationTests
{
    [Test]
    public void The_card_offers_mac_status_the_offloads_mergeable_buffers_and_both_ring_features()
    {
        ulong offered = VirtioNetNegotiation.Offered(new VirtioNetOptions());
        ulong expected = F.Mac | F.Status | F.Checksum | F.GuestChecksum | F.GuestTso4 | F.GuestTso6 | F.GuestEcn
            | F.HostTso4 | F.HostTso6 | F.HostEcn | F.MergeableRxBuffers
            | VirtioFeatures.RingEventIndex | VirtioFeatures.RingIndirectDescriptors;
        Assert.That(offered, Is.EqualTo(expected));
    }

    [Test]
    public void Without_offloads_the_card_offers_no_checksum_or_segmentation_bit()
    {
        ulong offered = VirtioNetNegotiation.Offered(new VirtioNetOptions { Offloads = false });
        Assert.Multiple(() =>
        {
            Assert.That(offered & F.AllOffloads, Is.Zero);
            Assert.That(offered & F.Mac, Is.Not.Zero);
        });
    }

    [Test]
    public void Without_mergeable_buffers_the_card_does_not_offer_them()
    {
        ulong offered = VirtioNetNegotiation.Offered(new VirtioNetOptions { MergeableRxBuffers = false });
        Assert.That(offered & F.MergeableRxBuffers, Is.Zero);
    }

    [Test]
    public void What_the_card_offers_respects_its_own_dependency_rules()
    {
        Assert.That(VirtioNetNegotiation.DependencyError(VirtioNetNegotiation.Offered(new VirtioNetOptions())), Is.Null);
    }

    [Test]
    public void A_driver_accepting_everything_or_nothing_is_consistent()
    {
        Assert.Multiple(() =>
        {
            Assert.That(VirtioNetNegotiation.DependencyError(F.AllOffloads | F.Mac), Is.Null);
            Assert.That(VirtioNetNegotiation.DependencyError(0), Is.Null);
        });
    }

    [TestCase(F.GuestTso4, TestName = "GUEST_TSO4 without GUEST_CSUM")]
    [TestCase(F.GuestTso6, TestName = "GUEST_TSO6 without GUEST_CSUM")]
    [TestCase(F.GuestChecksum | F.GuestEcn, TestName = "GUEST_ECN without GUEST_TSO4 or 6")]
    [TestCase(F.HostTso4, TestName = "HOST_TSO4 without CSUM")]
    [TestCase(F.HostTso6 | F.GuestChecksum, TestName = "HOST_TSO6 without CSUM")]
    [TestCase(F.Checksum | F.HostEcn, TestName = "HOST_ECN without HOST_TSO4 or 6")]
    public void A_driver_accepting_a_feature_without_the_one_it_requires_is_refused(ulong accepted)
    {
        Assert.That(VirtioNetNegotiation.DependencyError(accepted), Does.Contain("without"));
    }

    [Test]
    public void ECN_needs_only_one_of_the_two_segmentation_bits()
    {
        Assert.Multiple(() =>
        {
            Assert.That(VirtioNetNegotiation.DependencyError(F.GuestChecksum | F.GuestTso6 | F.GuestEcn), Is.Null);
            Assert.That(VirtioNetNegotiation.DependencyError(F.Checksum | F.HostTso4 | F.HostEcn), Is.Null);
        });
    }

    [TestCase(0UL, TunOffloads.None)]
    [TestCase(F.Checksum | F.HostTso4 | F.HostTso6, TunOffloads.None)]
    [TestCase(F.GuestChecksum, TunOffloads.Checksum)]
    [TestCase(F.GuestChecksum | F.GuestTso4, TunOffloads.Checksum | TunOffloads.Tso4)]
    [TestCase(F.GuestChecksum | F.GuestTso6, TunOffloads.Checksum | TunOffloads.Tso6)]
    [TestCase(F.GuestChecksum | F.GuestTso4 | F.GuestTso6 | F.GuestEcn, TunOffloads.Checksum | TunOffloads.Tso4 | TunOffloads.Tso6 | TunOffloads.TsoEcn)]
    [TestCase(F.AllOffloads, TunOffloads.Checksum | TunOffloads.Tso4 | TunOffloads.Tso6 | TunOffloads.TsoEcn)]
    [TestCase(F.GuestChecksum | F.GuestUfo, TunOffloads.Checksum | TunOffloads.Ufo)]
    public void The_tap_offloads_follow_only_the_guest_receive_features(ulong accepted, object expected)
    {
        Assert.That(VirtioNetNegotiation.TapOffloads(accepted), Is.EqualTo((TunOffloads)expected));
    }

    [Test]
    public void The_tap_is_never_told_to_send_segments_without_checksum_offload()
    {
        Assert.That(VirtioNetNegotiation.TapOffloads(F.GuestTso4 | F.GuestTso6 | F.GuestEcn), Is.EqualTo(TunOffloads.None));
    }

    [TestCase(0UL, 1500, 12 + 1518)]
    [TestCase(0UL, 9000, 12 + 9018)]
    [TestCase(0UL, 576, 12 + 1518)]
    [TestCase(F.GuestChecksum, 1500, 12 + 1518)]
    [TestCase(F.GuestChecksum | F.GuestTso4, 1500, 65562)]
    [TestCase(F.GuestChecksum | F.GuestTso6, 1500, 65562)]
    public void A_received_frame_needs_room_for_a_super_frame_only_with_receive_segmentation(ulong accepted, int mtu, int expected)
    {
        Assert.That(VirtioNetNegotiation.ReceiveFrameLimit(accepted, mtu), Is.EqualTo(expected));
    }

    [Test]
    public void A_plain_transmit_header_is_always_accepted()
    {
        Assert.That(VirtioNetNegotiation.TransmitHeaderError(default, 0), Is.Null);
    }

    [Test]
    public void A_partial_checksum_needs_CSUM()
    {
        var header = new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsChecksum, ChecksumStart = 34, ChecksumOffset = 6 };
        Assert.Multiple(() =>
        {
            Assert.That(VirtioNetNegotiation.TransmitHeaderError(header, 0), Does.Contain("VIRTIO_NET_F_CSUM"));
            Assert.That(VirtioNetNegotiation.TransmitHeaderError(header, F.Checksum), Is.Null);
        });
    }

    [Test]
    public void Receive_only_flag_bits_on_transmit_are_ignored_not_refused()
    {
        var header = new VirtioNetHeader { Flags = VirtioNetHeader.FlagDataValid | VirtioNetHeader.FlagRscInfo | 0x40 };
        Assert.That(VirtioNetNegotiation.TransmitHeaderError(header, 0), Is.Null);
    }

    [TestCase(VirtioNetHeader.GsoTcpV4, F.Checksum | F.HostTso4)]
    [TestCase(VirtioNetHeader.GsoTcpV6, F.Checksum | F.HostTso6)]
    [TestCase(VirtioNetHeader.GsoTcpV4 | VirtioNetHeader.GsoEcn, F.Checksum | F.HostTso4 | F.HostEcn)]
    public void A_super_frame_is_accepted_with_its_segmentation_feature(byte gsoType, ulong accepted)
    {
        var header = new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsChecksum, GsoType = gsoType, GsoSize = 1448 };
        Assert.That(VirtioNetNegotiation.TransmitHeaderError(header, accepted), Is.Null);
    }

    [TestCase(VirtioNetHeader.GsoTcpV4, F.Checksum | F.HostTso6, "not negotiated")]
    [TestCase(VirtioNetHeader.GsoTcpV6, F.Checksum | F.HostTso4, "not negotiated")]
    [TestCase(VirtioNetHeader.GsoUdp, F.AllOffloads, "not negotiated")]
    [TestCase(VirtioNetHeader.GsoUdpL4, F.AllOffloads, "gso_type 0x5")]
    [TestCase((byte)2, F.AllOffloads, "gso_type 0x2")]
    [TestCase((byte)(VirtioNetHeader.GsoTcpV4 | VirtioNetHeader.GsoEcn), F.Checksum | F.HostTso4, "ECN")]
    [TestCase(VirtioNetHeader.GsoEcn, F.AllOffloads, "ECN")]
    public void A_super_frame_without_its_feature_is_refused(byte gsoType, ulong accepted, string reason)
    {
        var header = new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsChecksum, GsoType = gsoType, GsoSize = 1448 };
        Assert.That(VirtioNetNegotiation.TransmitHeaderError(header, accepted), Does.Contain(reason));
    }
}
