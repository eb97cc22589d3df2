using System.Buffers.Binary;
using System.Net;
using Lguest.Devices;

namespace Lguest.Tests.Support;

/// <summary>Builds and takes apart the Ethernet/IPv4/UDP frames the network tests send through the device.</summary>
internal static class EthernetFrames
{
    public const int EthernetHeader = 14;
    public const int IpHeader = 20;
    public const int UdpHeader = 8;
    public const int UdpOffset = EthernetHeader + IpHeader;
    public const int PayloadOffset = UdpOffset + UdpHeader;

    /// <summary>A complete frame with correct IPv4 and UDP checksums.</summary>
    public static byte[] Udp(MacAddress source, MacAddress destination, IPAddress sourceIp, IPAddress destinationIp,
        ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[PayloadOffset + payload.Length];
        destination.CopyTo(frame);
        source.CopyTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);

        Span<byte> ip = frame.AsSpan(EthernetHeader, IpHeader);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(IpHeader + UdpHeader + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // don't fragment
        ip[8] = 64;
        ip[9] = 17; // UDP
        sourceIp.TryWriteBytes(ip[12..], out _);
        destinationIp.TryWriteBytes(ip[16..], out _);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip, 0));

        Span<byte> udp = frame.AsSpan(UdpOffset);
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(UdpHeader + payload.Length));
        payload.CopyTo(udp[UdpHeader..]);
        ushort sum = Checksum(udp, PseudoHeaderSum(ip, udp.Length));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], sum == 0 ? (ushort)0xffff : sum);
        return frame;
    }

    /// <summary>
    /// Turns the UDP checksum into what a driver sends with VIRTIO_NET_HDR_F_NEEDS_CSUM: the folded
    /// pseudo-header sum, for the host to finish from csum_start (34) at csum_offset (6).
    /// </summary>
    public static void MakePartial(byte[] frame)
    {
        Span<byte> udp = frame.AsSpan(UdpOffset);
        uint sum = PseudoHeaderSum(frame.AsSpan(EthernetHeader, IpHeader), udp.Length);
        while (sum >> 16 != 0)
            sum = (sum & 0xffff) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], (ushort)sum);
    }

    /// <summary>The UDP payload of a frame sent to <paramref name="port"/>, or null if the frame is something else.</summary>
    public static byte[]? UdpPayload(ReadOnlySpan<byte> frame, ushort port)
    {
        if (frame.Length < PayloadOffset || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != 0x0800 || frame[EthernetHeader + 9] != 17)
            return null;
        if (BinaryPrimitives.ReadUInt16BigEndian(frame[(UdpOffset + 2)..]) != port)
            return null;
        int length = BinaryPrimitives.ReadUInt16BigEndian(frame[(UdpOffset + 4)..]) - UdpHeader;
        return frame.Slice(PayloadOffset, length).ToArray();
    }

    public static MacAddress DestinationOf(ReadOnlySpan<byte> frame) => new(frame[..6]);

    public static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static uint PseudoHeaderSum(ReadOnlySpan<byte> ip, int udpLength)
    {
        uint sum = 0;
        for (int i = 12; i < 20; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        return sum + 17 + (uint)udpLength;
    }

    private static ushort Checksum(ReadOnlySpan<byte> data, uint sum)
    {
        for (int i = 0; i + 1 < data.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if ((data.Length & 1) != 0)
            sum += (uint)data[^1] << 8;
        while (sum >> 16 != 0)
            sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
