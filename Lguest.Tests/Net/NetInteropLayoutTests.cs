using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lguest.Devices;
using Lguest.Devices.Interop;
using Lguest.Tests.Support;

namespace Lguest.Tests.Net;

/// <summary>The tap's structs, ioctl numbers and flags, and the virtio-net header, against the C headers.</summary>
public class NetInteropLayoutTests
{
    private static readonly string[] Headers = ["net/if.h", "netinet/in.h", "sys/socket.h", "fcntl.h", "poll.h", "sys/ioctl.h", "linux/if_tun.h", "linux/sockios.h", "linux/virtio_net.h"];

    [Test]
    public void The_virtio_net_header_matches_struct_virtio_net_hdr_v1()
    {
        var c = CLayout.Evaluate(Headers,
        [
            "sizeof(struct virtio_net_hdr_v1)", "offsetof(struct virtio_net_hdr_v1, gso_type)",
            "offsetof(struct virtio_net_hdr_v1, hdr_len)", "offsetof(struct virtio_net_hdr_v1, gso_size)",
            "offsetof(struct virtio_net_hdr_v1, csum_start)", "offsetof(struct virtio_net_hdr_v1, csum_offset)",
            "offsetof(struct virtio_net_hdr_v1, num_buffers)",
        ]);
        Assert.Multiple(() =>
        {
            Assert.That(Unsafe.SizeOf<VirtioNetHeader>(), Is.EqualTo(VirtioNetHeader.Size));
            Assert.That(c["sizeof(struct virtio_net_hdr_v1)"], Is.EqualTo((ulong)VirtioNetHeader.Size));
            Assert.That((ulong)Marshal.OffsetOf<VirtioNetHeader>(nameof(VirtioNetHeader.GsoType)), Is.EqualTo(c["offsetof(struct virtio_net_hdr_v1, gso_type)"]));
            Assert.That((ulong)Marshal.OffsetOf<VirtioNetHeader>(nameof(VirtioNetHeader.HeaderLength)), Is.EqualTo(c["offsetof(struct virtio_net_hdr_v1, hdr_len)"]));
            Assert.That((ulong)Marshal.OffsetOf<VirtioNetHeader>(nameof(VirtioNetHeader.GsoSize)), Is.EqualTo(c["offsetof(struct virtio_net_hdr_v1, gso_size)"]));
            Assert.That((ulong)Marshal.OffsetOf<VirtioNetHeader>(nameof(VirtioNetHeader.ChecksumStart)), Is.EqualTo(c["offsetof(struct virtio_net_hdr_v1, csum_start)"]));
            Assert.That((ulong)Marshal.OffsetOf<VirtioNetHeader>(nameof(VirtioNetHeader.ChecksumOffset)), Is.EqualTo(c["offsetof(struct virtio_net_hdr_v1, csum_offset)"]));
            Assert.That((ulong)Marshal.OffsetOf<VirtioNetHeader>(nameof(VirtioNetHeader.NumBuffers)), Is.EqualTo(c["offsetof(struct virtio_net_hdr_v1, num_buffers)"]));
            Assert.That(c["offsetof(struct virtio_net_hdr_v1, num_buffers)"], Is.EqualTo((ulong)VirtioNetHeader.NumBuffersOffset));
        });
    }

    [Test]
    public void The_header_and_feature_constants_match_the_C_header()
    {
        (string C, ulong Ours)[] checks =
        [
            ("VIRTIO_NET_HDR_F_NEEDS_CSUM", VirtioNetHeader.FlagNeedsChecksum), ("VIRTIO_NET_HDR_F_DATA_VALID", VirtioNetHeader.FlagDataValid),
            ("VIRTIO_NET_HDR_F_RSC_INFO", VirtioNetHeader.FlagRscInfo), ("VIRTIO_NET_HDR_GSO_NONE", VirtioNetHeader.GsoNone),
            ("VIRTIO_NET_HDR_GSO_TCPV4", VirtioNetHeader.GsoTcpV4), ("VIRTIO_NET_HDR_GSO_UDP", VirtioNetHeader.GsoUdp),
            ("VIRTIO_NET_HDR_GSO_TCPV6", VirtioNetHeader.GsoTcpV6), ("VIRTIO_NET_HDR_GSO_ECN", VirtioNetHeader.GsoEcn),
            ("1ULL << VIRTIO_NET_F_CSUM", VirtioNetFeatures.Checksum), ("1ULL << VIRTIO_NET_F_GUEST_CSUM", VirtioNetFeatures.GuestChecksum),
            ("1ULL << VIRTIO_NET_F_MTU", VirtioNetFeatures.Mtu), ("1ULL << VIRTIO_NET_F_MAC", VirtioNetFeatures.Mac),
            ("1ULL << VIRTIO_NET_F_GUEST_TSO4", VirtioNetFeatures.GuestTso4), ("1ULL << VIRTIO_NET_F_GUEST_TSO6", VirtioNetFeatures.GuestTso6),
            ("1ULL << VIRTIO_NET_F_GUEST_ECN", VirtioNetFeatures.GuestEcn), ("1ULL << VIRTIO_NET_F_GUEST_UFO", VirtioNetFeatures.GuestUfo),
            ("1ULL << VIRTIO_NET_F_HOST_TSO4", VirtioNetFeatures.HostTso4), ("1ULL << VIRTIO_NET_F_HOST_TSO6", VirtioNetFeatures.HostTso6),
            ("1ULL << VIRTIO_NET_F_HOST_ECN", VirtioNetFeatures.HostEcn), ("1ULL << VIRTIO_NET_F_HOST_UFO", VirtioNetFeatures.HostUfo),
            ("1ULL << VIRTIO_NET_F_MRG_RXBUF", VirtioNetFeatures.MergeableRxBuffers), ("1ULL << VIRTIO_NET_F_STATUS", VirtioNetFeatures.Status),
            ("1ULL << VIRTIO_NET_F_CTRL_VQ", VirtioNetFeatures.ControlQueue), ("VIRTIO_NET_S_LINK_UP", VirtioNetFeatures.StatusLinkUp),
        ];
        var c = CLayout.Evaluate(Headers, checks.Select(x => x.C));
        Assert.Multiple(() =>
        {
            foreach ((string name, ulong ours) in checks)
                Assert.That(ours, Is.EqualTo(c[name]), name);
        });
    }

    [Test]
    public void The_tap_ioctls_and_flags_match_the_C_headers()
    {
        (string C, ulong Ours)[] checks =
        [
            ("TUNSETIFF", NetLibc.TunSetIff), ("TUNGETFEATURES", NetLibc.TunGetFeatures), ("TUNSETOFFLOAD", NetLibc.TunSetOffload),
            ("TUNGETIFF", NetLibc.TunGetIff), ("TUNGETVNETHDRSZ", NetLibc.TunGetVnetHdrSz), ("TUNSETVNETHDRSZ", NetLibc.TunSetVnetHdrSz),
            ("IFF_TAP", (ulong)NetLibc.IffTap), ("IFF_NO_PI", (ulong)NetLibc.IffNoPi), ("IFF_VNET_HDR", (ulong)NetLibc.IffVnetHdr),
            ("TUN_F_CSUM", (ulong)TunOffloads.Checksum), ("TUN_F_TSO4", (ulong)TunOffloads.Tso4), ("TUN_F_TSO6", (ulong)TunOffloads.Tso6),
            ("TUN_F_TSO_ECN", (ulong)TunOffloads.TsoEcn), ("TUN_F_UFO", (ulong)TunOffloads.Ufo),
            ("SIOCGIFFLAGS", NetLibc.SiocGifFlags), ("SIOCSIFFLAGS", NetLibc.SiocSifFlags), ("SIOCSIFADDR", NetLibc.SiocSifAddr),
            ("SIOCSIFNETMASK", NetLibc.SiocSifNetmask), ("SIOCGIFMTU", NetLibc.SiocGifMtu), ("SIOCGIFINDEX", NetLibc.SiocGifIndex),
            ("SIOCBRADDIF", NetLibc.SiocBrAddIf), ("IFF_UP", (ulong)NetLibc.IffUp),
            ("AF_INET", NetLibc.AfInet), ("SOCK_DGRAM", (ulong)NetLibc.SockDgram), ("SOCK_CLOEXEC", (ulong)NetLibc.SockCloexec),
            ("O_RDWR", (ulong)NetLibc.ORdwr), ("O_NONBLOCK", (ulong)NetLibc.ONonblock), ("O_CLOEXEC", (ulong)NetLibc.OCloexec),
            ("POLLIN", (ulong)NetLibc.PollIn), ("POLLOUT", (ulong)NetLibc.PollOut), ("POLLERR", (ulong)NetLibc.PollErr), ("POLLHUP", (ulong)NetLibc.PollHup),
        ];
        var c = CLayout.Evaluate(Headers, checks.Select(x => x.C));
        Assert.Multiple(() =>
        {
            foreach ((string name, ulong ours) in checks)
                Assert.That(ours, Is.EqualTo(c[name]), name);
        });
    }

    [Test]
    public void Ifreq_and_sockaddr_in_match_the_C_layout()
    {
        var c = CLayout.Evaluate(Headers,
        [
            "sizeof(struct ifreq)", "offsetof(struct ifreq, ifr_flags)", "offsetof(struct ifreq, ifr_ifindex)",
            "offsetof(struct ifreq, ifr_mtu)", "offsetof(struct ifreq, ifr_addr)", "IFNAMSIZ",
            "sizeof(struct sockaddr_in)", "offsetof(struct sockaddr_in, sin_port)", "offsetof(struct sockaddr_in, sin_addr)",
        ]);
        Assert.Multiple(() =>
        {
            Assert.That((ulong)Unsafe.SizeOf<IfReq>(), Is.EqualTo(c["sizeof(struct ifreq)"]));
            Assert.That(c["IFNAMSIZ"], Is.EqualTo((ulong)IfReq.NameSize));
            Assert.That((ulong)Marshal.OffsetOf<IfReq>(nameof(IfReq.Flags)), Is.EqualTo(c["offsetof(struct ifreq, ifr_flags)"]));
            Assert.That((ulong)Marshal.OffsetOf<IfReq>(nameof(IfReq.Value)), Is.EqualTo(c["offsetof(struct ifreq, ifr_ifindex)"]));
            Assert.That((ulong)Marshal.OffsetOf<IfReq>(nameof(IfReq.Value)), Is.EqualTo(c["offsetof(struct ifreq, ifr_mtu)"]));
            Assert.That((ulong)Marshal.OffsetOf<IfReq>(nameof(IfReq.Address)), Is.EqualTo(c["offsetof(struct ifreq, ifr_addr)"]));
            Assert.That((ulong)Unsafe.SizeOf<SockAddrIn>(), Is.EqualTo(c["sizeof(struct sockaddr_in)"]));
            Assert.That((ulong)Marshal.OffsetOf<SockAddrIn>(nameof(SockAddrIn.Port)), Is.EqualTo(c["offsetof(struct sockaddr_in, sin_port)"]));
            Assert.That((ulong)Marshal.OffsetOf<SockAddrIn>(nameof(SockAddrIn.Address)), Is.EqualTo(c["offsetof(struct sockaddr_in, sin_addr)"]));
        });
    }

    [Test]
    public void An_ifreq_name_longer_than_IFNAMSIZ_minus_one_is_refused()
    {
        Assert.Multiple(() =>
        {
            Assert.That(IfReq.For("fifteen-chars-x").GetName(), Is.EqualTo("fifteen-chars-x"));
            Assert.That(() => IfReq.For("sixteen-chars-xx"), Throws.ArgumentException);
        });
    }
}
