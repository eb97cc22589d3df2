using Lguest.Devices;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>
/// Every header field and chain shape from the guest is hostile: a broken packet costs its connection (a RST)
/// or, when it cannot even be read as a packet, the device (DEVICE_NEEDS_RESET); never the host.
/// </summary>
public class VsockHostileTests
{
    private const uint GuestPort = 1025;
    private const uint HostPort = 5000;

    [Test]
    public void A_packet_from_another_cid_is_dropped()
    {
        using var bed = new VsockTestBed();
        using VsockListener listener = bed.Host.Listen(HostPort);
        VsockHeader header = VsockTestBed.Header(VsockOp.Request, GuestPort, HostPort);
        header.SourceCid = 4;
        bed.Send(header);
        Assert.That(bed.TryReceive(200), Is.Null);
        Assert.That(bed.Device.ConnectionCount, Is.Zero);
    }

    [Test]
    public void A_packet_to_a_cid_other_than_the_host_is_dropped()
    {
        using var bed = new VsockTestBed();
        VsockHeader header = VsockTestBed.Header(VsockOp.Request, GuestPort, HostPort);
        header.DestinationCid = 1;
        bed.Send(header);
        Assert.That(bed.TryReceive(200), Is.Null);
    }

    [Test]
    public void A_seqpacket_request_is_reset()
    {
        using var bed = new VsockTestBed();
        using VsockListener listener = bed.Host.Listen(HostPort);
        VsockHeader header = VsockTestBed.Header(VsockOp.Request, GuestPort, HostPort);
        header.Type = 2;
        bed.Send(header);
        Assert.That(bed.Receive().Op, Is.EqualTo(VsockOp.Reset));
        Assert.That(bed.Device.ConnectionCount, Is.Zero);
    }

    [TestCase((ushort)0)]
    [TestCase((ushort)8)]
    [TestCase((ushort)0xffff)]
    public void An_unknown_op_on_a_connection_resets_it(ushort op)
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = VsockProtocolTests.Accept(bed);
        VsockHeader header = VsockTestBed.Header(VsockOp.CreditUpdate, GuestPort, HostPort);
        header.Op = op;
        bed.Send(header);
        Assert.That(bed.Expect(VsockOp.Reset).Header.DestinationPort, Is.EqualTo(GuestPort));
        Assert.That(() => stream.Read(new byte[1]), Throws.InstanceOf<IOException>());
    }

    [Test]
    public void A_second_request_for_a_connection_in_use_resets_it()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = VsockProtocolTests.Accept(bed);
        bed.Send(VsockTestBed.Header(VsockOp.Request, GuestPort, HostPort));
        Assert.That(bed.Expect(VsockOp.Reset).Header.DestinationPort, Is.EqualTo(GuestPort));
    }

    [Test]
    public void A_response_to_no_request_resets_the_connection()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = VsockProtocolTests.Accept(bed);
        bed.Send(VsockTestBed.Header(VsockOp.Response, GuestPort, HostPort));
        Assert.That(bed.Expect(VsockOp.Reset).Header.DestinationPort, Is.EqualTo(GuestPort));
    }

    [Test]
    public void Data_before_the_guest_accepted_resets_the_connection()
    {
        using var bed = new VsockTestBed();
        Task<VsockStream> connect = bed.Host.ConnectAsync(52);
        uint local = bed.Expect(VsockOp.Request).Header.SourcePort;
        bed.Send(VsockTestBed.Header(VsockOp.ReadWrite, 52, local, 1), [1]);
        Assert.That(bed.Expect(VsockOp.Reset).Header.SourcePort, Is.EqualTo(local));
        Assert.That(() => connect.Wait(), Throws.InstanceOf<AggregateException>());
    }

    [Test]
    public void Data_after_the_guests_shutdown_of_sending_resets_the_connection()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = VsockProtocolTests.Accept(bed);
        bed.Send(VsockTestBed.Header(VsockOp.Shutdown, GuestPort, HostPort, flags: (uint)VsockShutdown.Send));
        bed.Send(VsockTestBed.Header(VsockOp.ReadWrite, GuestPort, HostPort, 1), [1]);
        Assert.That(bed.Expect(VsockOp.Reset).Header.DestinationPort, Is.EqualTo(GuestPort));
    }

    [Test]
    public void A_packet_larger_than_64_KiB_resets_the_connection()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = VsockProtocolTests.Accept(bed);
        byte[] big = new byte[64 * 1024 + 1];
        bed.Send(VsockTestBed.Header(VsockOp.ReadWrite, GuestPort, HostPort, (uint)big.Length), big);
        Assert.That(bed.Expect(VsockOp.Reset).Header.DestinationPort, Is.EqualTo(GuestPort));
    }

    [Test]
    public void Unknown_shutdown_flags_are_ignored()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = VsockProtocolTests.Accept(bed);
        bed.Send(VsockTestBed.Header(VsockOp.Shutdown, GuestPort, HostPort, flags: 0xffff_fffc));
        stream.Write([1]);
        Assert.That(bed.Expect(VsockOp.ReadWrite).Payload, Is.EqualTo(new byte[] { 1 }));
    }

    [Test]
    public void A_len_past_the_chain_is_a_bad_driver()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = VsockProtocolTests.Accept(bed);
        bed.Send(VsockTestBed.Header(VsockOp.ReadWrite, GuestPort, HostPort, 100), new byte[99]);
        Assert.That(bed.Transport.WaitForBadDriver().Message, Does.Contain("runs past"));
    }

    [Test]
    public void A_transmit_chain_shorter_than_the_header_is_a_bad_driver()
    {
        using var bed = new VsockTestBed();
        bed.SendRaw(bed.Tx.Readable(new byte[43]));
        Assert.That(bed.Transport.WaitForBadDriver().Message, Does.Contain("shorter than the 44-byte"));
    }

    [Test]
    public void A_header_split_over_several_buffers_is_read_whole()
    {
        using var bed = new VsockTestBed();
        using VsockListener listener = bed.Host.Listen(HostPort);
        byte[] header = new byte[VsockHeader.Size];
        VsockTestBed.Header(VsockOp.Request, GuestPort, HostPort).Write(header);
        bed.SendRaw(bed.Tx.Readable(header.AsSpan(0, 3)), bed.Tx.Readable(header.AsSpan(3, 30)), bed.Tx.Readable(header.AsSpan(33)));
        Assert.That(bed.Expect(VsockOp.Response).Header.DestinationPort, Is.EqualTo(GuestPort));
    }

    [Test]
    public void A_device_writable_buffer_in_the_transmit_queue_is_a_bad_driver()
    {
        using var bed = new VsockTestBed();
        byte[] header = new byte[VsockHeader.Size];
        VsockTestBed.Header(VsockOp.Request, GuestPort, HostPort).Write(header);
        bed.SendRaw(bed.Tx.Readable(header), bed.Tx.Writable(16));
        Assert.That(bed.Transport.WaitForBadDriver().Message, Does.Contain("device-writable"));
    }

    [Test]
    public void A_device_readable_buffer_in_the_receive_queue_is_a_bad_driver()
    {
        using var bed = new VsockTestBed(activate: false);
        bed.RxPool.Clear();
        bed.Activate();
        bed.Rx.Add(bed.Rx.Readable(new byte[64]));
        bed.Rx.Kick();
        bed.Send(VsockTestBed.Header(VsockOp.Request, GuestPort, 7777)); // a RST to deliver
        Assert.That(bed.Transport.WaitForBadDriver().Message, Does.Contain("device-readable"));
    }

    [Test]
    public void A_receive_buffer_smaller_than_the_header_is_a_bad_driver()
    {
        using var bed = new VsockTestBed(activate: false);
        bed.RxPool.Clear();
        bed.Activate();
        bed.Rx.Add(bed.Rx.Writable(43));
        bed.Rx.Kick();
        bed.Send(VsockTestBed.Header(VsockOp.Request, GuestPort, 7777));
        Assert.That(bed.Transport.WaitForBadDriver().Message, Does.Contain("cannot hold"));
    }

    [Test]
    public void Resets_for_unknown_connections_wait_in_a_bounded_queue_while_the_guest_posts_no_buffers()
    {
        using var bed = new VsockTestBed(rxBuffers: 0);
        for (uint i = 0; i < VsockMuxer.MaxPendingResets + 100; i++)
            bed.Send(VsockTestBed.Header(VsockOp.ReadWrite, 2000 + i, HostPort, 1), [1]);
        bed.PostReceiveBuffers(32); // TryReceive posts each back as it takes it
        int resets = 0;
        while (bed.TryReceive(300) is { } packet)
        {
            Assert.That(packet.Op, Is.EqualTo(VsockOp.Reset));
            resets++;
        }
        Assert.That(resets, Is.EqualTo(VsockMuxer.MaxPendingResets));
    }

    [Test]
    public void Requests_past_the_connection_limit_are_reset()
    {
        using var bed = new VsockTestBed();
        using VsockListener listener = bed.Host.Listen(HostPort, backlog: VsockHost.MaxBacklog);
        int responses = 0, resets = 0;
        for (uint i = 0; i <= VsockMuxer.MaxConnections; i++)
        {
            bed.Send(VsockTestBed.Header(VsockOp.Request, 10_000 + i, HostPort));
            GuestPacket answer = bed.Receive();
            if (answer.Op == VsockOp.Response)
                responses++;
            else if (answer.Op == VsockOp.Reset)
                resets++;
        }
        Assert.That((responses, resets), Is.EqualTo((VsockMuxer.MaxConnections, 1)));
        Assert.That(bed.Device.ConnectionCount, Is.EqualTo(VsockMuxer.MaxConnections));
    }

    [Test]
    public void A_full_listener_backlog_resets_the_guests_connection()
    {
        using var bed = new VsockTestBed();
        using VsockListener listener = bed.Host.Listen(HostPort, backlog: 1);
        bed.Send(VsockTestBed.Header(VsockOp.Request, 1, HostPort));
        Assert.That(bed.Receive().Op, Is.EqualTo(VsockOp.Response));
        bed.Send(VsockTestBed.Header(VsockOp.Request, 2, HostPort));
        Assert.That(bed.Receive().Op, Is.EqualTo(VsockOp.Reset));
        // The same ports again, once the program accepted the first: a fresh connection.
        using VsockStream first = listener.AcceptAsync().AsTask().Result;
        bed.Send(VsockTestBed.Header(VsockOp.Request, 2, HostPort));
        Assert.That(bed.Receive().Op, Is.EqualTo(VsockOp.Response));
    }
}
