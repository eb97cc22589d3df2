using System.Buffers.Binary;
using Lguest.Devices;
using Lguest.Tests.Support;
using Lguest.Virtio;
using F = Lguest.Devices.VirtioNetFeatures;

namespace Lguest.Tests.Devices.Net;

/// <summary>The card as a driver sees it: configuration, features, and frames both ways through a real tap.</summary>
public class VirtioNetDeviceTests
{
    [Test]
    public void The_configuration_holds_the_mac_address_and_a_link_that_is_up()
    {
        using var bed = new NetTestBed(activate: false);
        var config = new byte[8];
        for (int i = 0; i < 6; i++)
            bed.Device.ReadConfig(i, config.AsSpan(i, 1));
        bed.Device.ReadConfig(6, config.AsSpan(6, 2));
        var mac = new byte[6];
        NetTestBed.GuestMac.CopyTo(mac);
        Assert.Multiple(() =>
        {
            Assert.That(bed.Device.ConfigSize, Is.EqualTo(8));
            Assert.That(config[..6], Is.EqualTo(mac));
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(6)), Is.EqualTo(F.StatusLinkUp));
            Assert.That(bed.Device.DeviceType, Is.EqualTo(VirtioDeviceType.Net));
            Assert.That(bed.Device.QueueMaxSizes, Is.EqualTo(new ushort[] { 256, 256 }));
        });
    }

    [Test]
    public void A_configuration_write_changes_nothing()
    {
        using var bed = new NetTestBed(activate: false);
        bed.Device.WriteConfig(0, new byte[] { 1, 2, 3, 4 });
        var mac = new byte[4];
        bed.Device.ReadConfig(0, mac);
        Assert.That(mac, Is.EqualTo(new byte[] { 0x52, 0x54, 0x00, 0x99 }));
    }

    [Test]
    public void The_device_offers_version_1_with_the_net_features()
    {
        using var bed = new NetTestBed(activate: false);
        Assert.That(bed.Device.DeviceFeatures, Is.EqualTo(VirtioNetNegotiation.Offered(bed.Options) | VirtioFeatures.Version1));
    }

    [Test]
    public void A_driver_breaking_a_feature_dependency_is_refused_at_activation()
    {
        using var bed = new NetTestBed(features: NetTestBed.RingFeatures | F.GuestTso4, activate: false);
        Assert.That(bed.Activate, Throws.TypeOf<BadDriverException>().With.Message.Contains("bad driver"));
    }

    [Test]
    public void A_frame_the_guest_sends_reaches_a_host_socket()
    {
        using var bed = new NetTestBed();
        byte[] payload = EthernetFrames.Pattern(300, 1);
        VringUsedElement used = bed.Transmit(bed.GuestToHost(payload));
        Assert.Multiple(() =>
        {
            Assert.That(used.Length, Is.Zero);
            Assert.That(bed.HostReceive(), Is.EqualTo(payload));
            Assert.That(bed.Counters.TransmittedPackets, Is.EqualTo(1));
            Assert.That(bed.Counters.TransmittedBytes, Is.EqualTo(EthernetFrames.PayloadOffset + 300));
            Assert.That(bed.Transport.Signals(VirtioNetDevice.TransmitQueue), Is.GreaterThan(0));
        });
    }

    [Test]
    public void A_frame_split_over_many_buffers_behind_a_separate_header_is_sent_whole()
    {
        using var bed = new NetTestBed();
        byte[] payload = EthernetFrames.Pattern(1000, 2);
        byte[] frame = bed.GuestToHost(payload);
        var buffers = new List<DriverBuffer> { bed.Tx.Readable(NetTestBed.Header()) };
        for (int offset = 0; offset < frame.Length; offset += 97)
            buffers.Add(bed.Tx.Readable(frame.AsSpan(offset, Math.Min(97, frame.Length - offset))));
        bed.Tx.Add(indirect: true, [.. buffers]);
        bed.Tx.Kick();
        bed.Tx.WaitForUsed(bed.Transport);
        Assert.That(bed.HostReceive(), Is.EqualTo(payload));
    }

    [Test]
    public void A_header_split_across_descriptors_is_read_whole()
    {
        using var bed = new NetTestBed();
        byte[] payload = EthernetFrames.Pattern(64, 3);
        byte[] all = [.. NetTestBed.Header(), .. bed.GuestToHost(payload)];
        bed.Tx.Add(bed.Tx.Readable(all.AsSpan(0, 5)), bed.Tx.Readable(all.AsSpan(5, 20)), bed.Tx.Readable(all.AsSpan(25)));
        bed.Tx.Kick();
        bed.Tx.WaitForUsed(bed.Transport);
        Assert.That(bed.HostReceive(), Is.EqualTo(payload));
    }

    [Test]
    public void A_partial_checksum_is_finished_by_the_host_when_CSUM_was_negotiated()
    {
        using var bed = new NetTestBed(features: NetTestBed.RingFeatures | F.Checksum);
        byte[] payload = EthernetFrames.Pattern(500, 4);
        byte[] frame = bed.GuestToHost(payload);
        EthernetFrames.MakePartial(frame);
        bed.Transmit(frame, NetTestBed.Header(VirtioNetHeader.FlagNeedsChecksum, csumStart: EthernetFrames.UdpOffset, csumOffset: 6));
        Assert.That(bed.HostReceive(), Is.EqualTo(payload));
    }

    [Test]
    public void A_host_datagram_arrives_in_one_receive_chain_with_its_header()
    {
        using var bed = new NetTestBed();
        DriverBuffer buffer = bed.PostReceive(1526);
        byte[] payload = EthernetFrames.Pattern(200, 5);
        bed.HostSend(payload);
        VringUsedElement used = bed.Rx.WaitForUsed(bed.Transport);
        byte[] bytes = bed.Rx.ReadBuffer(buffer);
        byte[] frame = bytes[VirtioNetHeader.Size..(int)used.Length];
        Assert.Multiple(() =>
        {
            Assert.That(used.Length, Is.EqualTo(VirtioNetHeader.Size + EthernetFrames.PayloadOffset + 200));
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(VirtioNetHeader.NumBuffersOffset)), Is.EqualTo(1), "num_buffers");
            Assert.That(bytes[0], Is.Zero, "flags without GUEST_CSUM");
            Assert.That(bytes[1], Is.EqualTo(VirtioNetHeader.GsoNone), "gso_type");
            Assert.That(EthernetFrames.DestinationOf(frame), Is.EqualTo(NetTestBed.GuestMac));
            Assert.That(EthernetFrames.UdpPayload(frame, NetTestBed.GuestPort), Is.EqualTo(payload));
            Assert.That(bed.Counters.ReceivedPackets, Is.EqualTo(1));
            Assert.That(bed.Counters.ReceivedBytes, Is.EqualTo(EthernetFrames.PayloadOffset + 200));
        });
    }

    [Test]
    public void With_GUEST_CSUM_the_host_hands_the_guest_a_partial_checksum()
    {
        using var bed = new NetTestBed(features: NetTestBed.RingFeatures | F.GuestChecksum);
        DriverBuffer buffer = bed.PostReceive(1526);
        bed.HostSend(EthernetFrames.Pattern(100, 6));
        bed.Rx.WaitForUsed(bed.Transport);
        byte[] bytes = bed.Rx.ReadBuffer(buffer);
        Assert.Multiple(() =>
        {
            Assert.That(bytes[0] & VirtioNetHeader.FlagNeedsChecksum, Is.Not.Zero, "flags");
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6)), Is.EqualTo(EthernetFrames.UdpOffset), "csum_start");
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)), Is.EqualTo(6), "csum_offset");
        });
    }

    [Test]
    public void With_mergeable_buffers_a_frame_spans_several_chains_and_num_buffers_counts_them()
    {
        using var bed = new NetTestBed(features: NetTestBed.RingFeatures | F.MergeableRxBuffers);
        var buffers = new Dictionary<uint, DriverBuffer>();
        for (int i = 0; i < 16; i++)
        {
            DriverBuffer b = bed.Rx.Writable(256);
            buffers[bed.Rx.Add(b)] = b;
        }
        bed.Rx.Kick();
        byte[] payload = EthernetFrames.Pattern(1400, 7);
        bed.HostSend(payload);

        var frame = new List<byte>();
        VringUsedElement first = bed.Rx.WaitForUsed(bed.Transport);
        byte[] firstBytes = bed.Rx.ReadBuffer(buffers[first.Id]);
        int count = BinaryPrimitives.ReadUInt16LittleEndian(firstBytes.AsSpan(VirtioNetHeader.NumBuffersOffset));
        frame.AddRange(firstBytes[VirtioNetHeader.Size..(int)first.Length]);
        var lengths = new List<uint> { first.Length };
        for (int i = 1; i < count; i++)
        {
            VringUsedElement next = bed.Rx.WaitForUsed(bed.Transport);
            lengths.Add(next.Length);
            frame.AddRange(bed.Rx.ReadBuffer(buffers[next.Id])[..(int)next.Length]);
        }
        int expected = VirtioNetHeader.Size + EthernetFrames.PayloadOffset + 1400;
        Assert.Multiple(() =>
        {
            Assert.That(count, Is.EqualTo((expected + 255) / 256));
            Assert.That(lengths.Take(count - 1), Is.All.EqualTo(256u));
            Assert.That(lengths.Sum(l => l), Is.EqualTo(expected));
            Assert.That(EthernetFrames.UdpPayload(frame.ToArray(), NetTestBed.GuestPort), Is.EqualTo(payload));
        });
    }

    [Test]
    public void Chains_a_frame_did_not_reach_are_kept_for_the_next_frame()
    {
        using var bed = new NetTestBed(features: NetTestBed.RingFeatures | F.MergeableRxBuffers);
        var buffers = new Dictionary<uint, DriverBuffer>();
        for (int i = 0; i < 8; i++)
        {
            DriverBuffer b = bed.Rx.Writable(2048);
            buffers[bed.Rx.Add(b)] = b;
        }
        bed.Rx.Kick();
        bed.HostSend(EthernetFrames.Pattern(10, 8));
        bed.HostSend(EthernetFrames.Pattern(20, 9));
        VringUsedElement a = bed.Rx.WaitForUsed(bed.Transport);
        VringUsedElement b2 = bed.Rx.WaitForUsed(bed.Transport);
        Assert.Multiple(() =>
        {
            Assert.That(EthernetFrames.UdpPayload(bed.Rx.ReadBuffer(buffers[a.Id]).AsSpan(VirtioNetHeader.Size), NetTestBed.GuestPort), Is.EqualTo(EthernetFrames.Pattern(10, 8)));
            Assert.That(EthernetFrames.UdpPayload(bed.Rx.ReadBuffer(buffers[b2.Id]).AsSpan(VirtioNetHeader.Size), NetTestBed.GuestPort), Is.EqualTo(EthernetFrames.Pattern(20, 9)));
            Assert.That(bed.Rx.UsedIndex, Is.EqualTo(2));
        });
    }

    [Test]
    public void With_receive_segmentation_the_receiver_waits_for_room_for_a_64_KiB_frame_before_reading()
    {
        const ulong features = NetTestBed.RingFeatures | F.MergeableRxBuffers | F.GuestChecksum | F.GuestTso4;
        using var bed = new NetTestBed(features: features);
        SpinWait.SpinUntil(() => bed.Counters.ReceiveBufferWaits >= 1, VirtqueueDriver.PatienceMilliseconds);
        for (int i = 0; i < 4; i++)
            bed.Rx.Add(bed.Rx.Writable(4096));
        bed.Rx.Kick();
        bed.HostSend(EthernetFrames.Pattern(100, 10));
        // The receiver took the four chains, found 16 KiB too little for the largest frame, and waits again.
        SpinWait.SpinUntil(() => bed.Counters.ReceiveBufferWaits >= 2, VirtqueueDriver.PatienceMilliseconds);
        Assert.That(bed.Rx.UsedIndex, Is.Zero);
        for (int i = 0; i < 13; i++)
            bed.Rx.Add(bed.Rx.Writable(4096));
        bed.Rx.Kick();
        VringUsedElement used = bed.Rx.WaitForUsed(bed.Transport);
        Assert.Multiple(() =>
        {
            Assert.That(used.Length, Is.EqualTo(VirtioNetHeader.Size + EthernetFrames.PayloadOffset + 100));
            Assert.That(bed.Counters.TotalDrops, Is.Zero);
        });
    }

    [Test]
    public void Frames_wait_in_the_tap_while_the_guest_has_no_buffers_and_none_is_lost()
    {
        using var bed = new NetTestBed();
        SpinWait.SpinUntil(() => bed.Counters.ReceiveBufferWaits >= 1, VirtqueueDriver.PatienceMilliseconds);
        for (int i = 0; i < 50; i++)
            bed.HostSend(EthernetFrames.Pattern(i + 1, i));
        var buffers = new Dictionary<uint, DriverBuffer>();
        for (int i = 0; i < 64; i++)
        {
            DriverBuffer b = bed.Rx.Writable(1526);
            buffers[bed.Rx.Add(b)] = b;
        }
        bed.Rx.Kick();
        List<VringUsedElement> used = bed.Rx.WaitForUsed(bed.Transport, 50);
        byte[]?[] payloads = used.Select(u => EthernetFrames.UdpPayload(bed.Rx.ReadBuffer(buffers[u.Id]).AsSpan(VirtioNetHeader.Size..(int)u.Length), NetTestBed.GuestPort)).ToArray();
        Assert.Multiple(() =>
        {
            for (int i = 0; i < 50; i++)
                Assert.That(payloads[i], Is.EqualTo(EthernetFrames.Pattern(i + 1, i)), $"frame {i}");
            Assert.That(bed.Counters.TotalDrops, Is.Zero);
        });
    }

    [Test]
    public void A_frame_larger_than_its_chain_is_dropped_and_the_chain_kept_for_the_next()
    {
        using var bed = new NetTestBed();
        DriverBuffer buffer = bed.PostReceive(200);
        bed.HostSend(EthernetFrames.Pattern(1000, 11));
        SpinWait.SpinUntil(() => bed.Counters.Drops(VirtioNetDrop.ReceiveTruncated) == 1, VirtqueueDriver.PatienceMilliseconds);
        bed.HostSend(EthernetFrames.Pattern(50, 12));
        VringUsedElement used = bed.Rx.WaitForUsed(bed.Transport);
        Assert.Multiple(() =>
        {
            Assert.That(bed.Counters.Drops(VirtioNetDrop.ReceiveTruncated), Is.EqualTo(1));
            Assert.That(EthernetFrames.UdpPayload(bed.Rx.ReadBuffer(buffer).AsSpan(VirtioNetHeader.Size..(int)used.Length), NetTestBed.GuestPort),
                Is.EqualTo(EthernetFrames.Pattern(50, 12)));
            Assert.That(bed.Counters.ReceivedPackets, Is.EqualTo(1));
        });
    }

    [Test]
    public void A_receive_chain_with_a_readable_buffer_is_returned_empty_and_counted()
    {
        using var bed = new NetTestBed();
        ushort bad = bed.Rx.Add(bed.Rx.Readable(new byte[16]), bed.Rx.Writable(1526));
        DriverBuffer good = bed.Rx.Writable(1526);
        ushort goodHead = bed.Rx.Add(good);
        bed.Rx.Kick();
        bed.HostSend(EthernetFrames.Pattern(30, 13));
        VringUsedElement first = bed.Rx.WaitForUsed(bed.Transport);
        VringUsedElement second = bed.Rx.WaitForUsed(bed.Transport);
        Assert.Multiple(() =>
        {
            Assert.That((first.Id, first.Length), Is.EqualTo(((uint)bad, 0u)));
            Assert.That(second.Id, Is.EqualTo(goodHead));
            Assert.That(bed.Counters.Drops(VirtioNetDrop.ReceiveChainRefused), Is.EqualTo(1));
            Assert.That(bed.Transport.BadDrivers, Is.Empty);
        });
    }

    [Test]
    public void A_receive_chain_too_small_for_the_header_is_returned_empty_and_counted()
    {
        using var bed = new NetTestBed();
        ushort small = bed.Rx.Add(bed.Rx.Writable(11));
        bed.Rx.Kick();
        VringUsedElement used = bed.Rx.WaitForUsed(bed.Transport);
        Assert.Multiple(() =>
        {
            Assert.That((used.Id, used.Length), Is.EqualTo(((uint)small, 0u)));
            Assert.That(bed.Counters.Drops(VirtioNetDrop.ReceiveChainRefused), Is.EqualTo(1));
        });
    }

    [TestCase(11, VirtioNetDrop.TransmitTooShort, TestName = "A chain shorter than the header is dropped, counted, and the device goes on")]
    [TestCase(12 + 13, VirtioNetDrop.TransmitTooShort, TestName = "A chain shorter than the header and an Ethernet header is dropped, counted, and the device goes on")]
    [TestCase(65562 + 1, VirtioNetDrop.TransmitTooLong, TestName = "A chain longer than 64 KiB plus headers is dropped, counted, and the device goes on")]
    public void A_malformed_transmit_chain_is_dropped_and_counted(int length, VirtioNetDrop reason)
    {
        using var bed = new NetTestBed();
        VringUsedElement used = bed.Transmit([], new byte[length]);
        AssertDroppedAndStillRunning(bed, used, reason);
    }

    [Test]
    public void A_transmit_chain_with_a_writable_buffer_is_dropped_counted_and_the_device_goes_on()
    {
        using var bed = new NetTestBed();
        byte[] frame = [.. NetTestBed.Header(), .. bed.GuestToHost(new byte[10])];
        ushort head = bed.Tx.Add(bed.Tx.Readable(frame), bed.Tx.Writable(64));
        bed.Tx.Kick();
        VringUsedElement used = bed.Tx.WaitForUsed(bed.Transport);
        Assert.That(used.Id, Is.EqualTo(head));
        AssertDroppedAndStillRunning(bed, used, VirtioNetDrop.TransmitWritableBuffer);
    }

    [TestCase(VirtioNetHeader.FlagNeedsChecksum, VirtioNetHeader.GsoNone, TestName = "A partial checksum without CSUM is dropped, counted, and the device goes on")]
    [TestCase(VirtioNetHeader.FlagNeedsChecksum, VirtioNetHeader.GsoTcpV4, TestName = "A TSO frame without HOST_TSO4 is dropped, counted, and the device goes on")]
    [TestCase((byte)0, (byte)7, TestName = "An unknown gso_type is dropped, counted, and the device goes on")]
    public void A_transmit_header_asking_for_an_offload_not_negotiated_is_dropped(byte flags, byte gsoType)
    {
        using var bed = new NetTestBed();
        VringUsedElement used = bed.Transmit(bed.GuestToHost(new byte[100]), NetTestBed.Header(flags, gsoType, gsoSize: 1000, csumStart: 34, csumOffset: 6));
        AssertDroppedAndStillRunning(bed, used, VirtioNetDrop.TransmitOffloadRefused);
    }

    [Test]
    public void A_frame_the_host_kernel_refuses_is_dropped_counted_and_the_device_goes_on()
    {
        using var bed = new NetTestBed(features: NetTestBed.RingFeatures | F.Checksum);
        // csum_start beyond the frame: allowed by the features, refused by the kernel's own checks.
        VringUsedElement used = bed.Transmit(bed.GuestToHost(new byte[10]), NetTestBed.Header(VirtioNetHeader.FlagNeedsChecksum, csumStart: 4000, csumOffset: 6));
        AssertDroppedAndStillRunning(bed, used, VirtioNetDrop.TransmitHostRefused);
    }

    [Test]
    public void Receive_only_flags_in_a_transmit_header_are_ignored()
    {
        using var bed = new NetTestBed();
        byte[] payload = EthernetFrames.Pattern(40, 14);
        bed.Transmit(bed.GuestToHost(payload), NetTestBed.Header(VirtioNetHeader.FlagDataValid | VirtioNetHeader.FlagRscInfo));
        Assert.Multiple(() =>
        {
            Assert.That(bed.HostReceive(), Is.EqualTo(payload));
            Assert.That(bed.Counters.TotalDrops, Is.Zero);
        });
    }

    [Test]
    public void Reset_stops_the_workers_and_a_new_activation_serves_again()
    {
        using var bed = new NetTestBed();
        bed.Device.Reset();
        bed.Device.Reset();
        bed.Activate();
        byte[] payload = EthernetFrames.Pattern(70, 15);
        bed.Transmit(bed.GuestToHost(payload));
        Assert.That(bed.HostReceive(), Is.EqualTo(payload));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Receive_buffers_the_device_took_before_a_pause_are_filled_after_it_in_order(bool mergeable)
    {
        // After each frame the receiver takes the next buffer and holds it for the one after: a pause must keep it
        // (a resumed receiver that forgot it would fill the buffer after, and the guest would never get it back).
        const int Rounds = 4;
        using var bed = new NetTestBed(features: NetTestBed.RingFeatures | (mergeable ? F.MergeableRxBuffers : 0));
        var heads = new List<ushort>();
        for (int i = 0; i < Rounds + 1; i++)
            heads.Add(bed.Rx.Add(bed.Rx.Writable(2048)));
        bed.Rx.Kick();
        for (int round = 0; round < Rounds; round++)
        {
            bed.HostSend(EthernetFrames.Pattern(100 + round, round));
            VringUsedElement used = bed.Rx.WaitForUsed(bed.Transport);
            Assert.That(used.Id, Is.EqualTo(heads[round]), $"round {round}: the frame fills the oldest buffer posted");
            bed.Device.Pause();
            bed.Device.Resume();
        }
        Assert.That(bed.Counters.TotalDrops, Is.Zero);
    }

    private static void AssertDroppedAndStillRunning(NetTestBed bed, VringUsedElement used, VirtioNetDrop reason)
    {
        byte[] payload = EthernetFrames.Pattern(33, 99);
        bed.Transmit(bed.GuestToHost(payload));
        Assert.Multiple(() =>
        {
            Assert.That(used.Length, Is.Zero);
            Assert.That(bed.Counters.Drops(reason), Is.EqualTo(1));
            Assert.That(bed.Counters.TotalDrops, Is.EqualTo(1));
            Assert.That(bed.HostReceive(), Is.EqualTo(payload), "the next frame");
            Assert.That(bed.Transport.BadDrivers, Is.Empty);
        });
    }
}
