using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Lguest.Devices;
using Lguest.Virtio;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>The connection state machine over real rings, with this process's programs as the host end.</summary>
public class VsockProtocolTests
{
    private const uint GuestPort = 1025;
    private const uint HostPort = 5000;

    [Test]
    public void The_device_is_a_socket_device_with_the_guest_cid_in_its_configuration()
    {
        using var bed = new VsockTestBed(activate: false);
        byte[] config = new byte[8];
        bed.Device.ReadConfig(0, config);
        Assert.Multiple(() =>
        {
            Assert.That(bed.Device.DeviceType, Is.EqualTo(VirtioDeviceType.Vsock));
            Assert.That((ushort)bed.Device.DeviceType, Is.EqualTo(19));
            Assert.That(bed.Device.QueueMaxSizes, Has.Count.EqualTo(3));
            Assert.That(bed.Device.ConfigSize, Is.EqualTo(8));
            Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(config), Is.EqualTo(VsockTestBed.GuestCid));
            Assert.That(bed.Device.DeviceFeatures & 0xffff_ffff, Is.EqualTo(VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex), "no SEQPACKET");
        });
        bed.Device.WriteConfig(0, [9, 9, 9, 9]);
        bed.Device.ReadConfig(4, config.AsSpan(0, 4));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(config), Is.Zero, "the CID's upper half, unchanged by the write");
    }

    [Test]
    public void A_guest_connection_to_a_listening_program_is_accepted_and_carries_data_both_ways()
    {
        using var bed = new VsockTestBed();
        using VsockListener listener = bed.Host.Listen(HostPort);
        bed.Send(VsockTestBed.Header(VsockOp.Request, GuestPort, HostPort));
        GuestPacket response = bed.Expect(VsockOp.Response);
        Assert.Multiple(() =>
        {
            Assert.That(response.Header.SourceCid, Is.EqualTo(2UL));
            Assert.That(response.Header.DestinationCid, Is.EqualTo(VsockTestBed.GuestCid));
            Assert.That(response.Header.SourcePort, Is.EqualTo(HostPort));
            Assert.That(response.Header.DestinationPort, Is.EqualTo(GuestPort));
            Assert.That(response.Header.BufferAllocation, Is.EqualTo(256 * 1024));
            Assert.That(response.Header.Type, Is.EqualTo(1));
        });
        using VsockStream stream = listener.AcceptAsync().AsTask().Result;
        Assert.That((stream.LocalPort, stream.RemotePort), Is.EqualTo((HostPort, GuestPort)));

        byte[] hello = Encoding.ASCII.GetBytes("hello from the guest");
        bed.Send(VsockTestBed.Header(VsockOp.ReadWrite, GuestPort, HostPort, (uint)hello.Length), hello);
        byte[] read = new byte[64];
        int n = stream.Read(read);
        Assert.That(read[..n], Is.EqualTo(hello));

        stream.Write(Encoding.ASCII.GetBytes("and back"));
        GuestPacket data = bed.Expect(VsockOp.ReadWrite);
        Assert.That(Encoding.ASCII.GetString(data.Payload), Is.EqualTo("and back"));
        Assert.That(data.Header.ForwardCount, Is.EqualTo((uint)hello.Length), "fwd_cnt counts what the program consumed");
    }

    [Test]
    public void A_guest_connection_to_a_port_nobody_listens_on_gets_a_reset()
    {
        using var bed = new VsockTestBed();
        bed.Send(VsockTestBed.Header(VsockOp.Request, GuestPort, 7777));
        GuestPacket reset = bed.Receive();
        Assert.That(reset.Op, Is.EqualTo(VsockOp.Reset));
        Assert.That((reset.Header.SourcePort, reset.Header.DestinationPort), Is.EqualTo((7777u, GuestPort)));
        Assert.That(bed.Device.ConnectionCount, Is.Zero);
    }

    [TestCase(5, TestName = "A_packet_for_no_connection_is_answered_with_a_reset(RW)")]
    [TestCase(4, TestName = "A_packet_for_no_connection_is_answered_with_a_reset(SHUTDOWN)")]
    [TestCase(6, TestName = "A_packet_for_no_connection_is_answered_with_a_reset(CREDIT_UPDATE)")]
    [TestCase(7, TestName = "A_packet_for_no_connection_is_answered_with_a_reset(CREDIT_REQUEST)")]
    [TestCase(2, TestName = "A_packet_for_no_connection_is_answered_with_a_reset(RESPONSE)")]
    [TestCase(0, TestName = "A_packet_for_no_connection_is_answered_with_a_reset(INVALID)")]
    public void A_packet_for_no_connection_is_answered_with_a_reset(int value)
    {
        var op = (VsockOp)value;
        using var bed = new VsockTestBed();
        bed.Send(VsockTestBed.Header(op, GuestPort, HostPort, op == VsockOp.ReadWrite ? 3u : 0), op == VsockOp.ReadWrite ? [1, 2, 3] : []);
        Assert.That(bed.Receive().Op, Is.EqualTo(VsockOp.Reset));
    }

    [Test]
    public void A_reset_for_no_connection_is_not_answered()
    {
        using var bed = new VsockTestBed();
        bed.Send(VsockTestBed.Header(VsockOp.Reset, GuestPort, HostPort));
        Assert.That(bed.TryReceive(200), Is.Null);
    }

    [Test]
    public void A_program_connects_to_a_guest_port_once_the_guest_responds()
    {
        using var bed = new VsockTestBed();
        Task<VsockStream> connect = bed.Host.ConnectAsync(52);
        GuestPacket request = bed.Expect(VsockOp.Request);
        Assert.Multiple(() =>
        {
            Assert.That(request.Header.DestinationPort, Is.EqualTo(52u));
            Assert.That(request.Header.SourcePort, Is.GreaterThanOrEqualTo(1u << 30), "host ports of host-initiated connections");
            Assert.That(connect.IsCompleted, Is.False);
        });
        uint local = request.Header.SourcePort;
        bed.Send(VsockTestBed.Header(VsockOp.Response, 52, local));
        using VsockStream stream = connect.Result;
        Assert.That((stream.LocalPort, stream.RemotePort), Is.EqualTo((local, 52u)));
        stream.Write([42]);
        Assert.That(bed.Expect(VsockOp.ReadWrite).Payload, Is.EqualTo(new byte[] { 42 }));
    }

    [Test]
    public void A_program_connecting_to_a_port_the_guest_refuses_gets_connection_refused()
    {
        using var bed = new VsockTestBed();
        Task<VsockStream> connect = bed.Host.ConnectAsync(52);
        uint local = bed.Expect(VsockOp.Request).Header.SourcePort;
        bed.Send(VsockTestBed.Header(VsockOp.Reset, 52, local));
        var refused = Assert.Throws<AggregateException>(() => connect.Wait())!.InnerException as SocketException;
        Assert.That(refused?.SocketErrorCode, Is.EqualTo(SocketError.ConnectionRefused));
    }

    [Test]
    public void A_program_connecting_before_the_driver_runs_gets_connection_refused()
    {
        using var bed = new VsockTestBed(activate: false);
        var refused = Assert.ThrowsAsync<SocketException>(() => bed.Host.ConnectAsync(52));
        Assert.That(refused!.SocketErrorCode, Is.EqualTo(SocketError.ConnectionRefused));
    }

    [Test]
    public void A_guest_that_never_answers_a_request_times_the_program_out_and_gets_a_reset()
    {
        var clock = new Support.ManualTimeProvider();
        using var bed = new VsockTestBed(clock: clock);
        Task<VsockStream> connect = bed.Host.ConnectAsync(52);
        uint local = bed.Expect(VsockOp.Request).Header.SourcePort;
        clock.Advance(TimeSpan.FromSeconds(3));
        var timedOut = Assert.Throws<AggregateException>(() => connect.Wait())!.InnerException as SocketException;
        Assert.That(timedOut?.SocketErrorCode, Is.EqualTo(SocketError.TimedOut));
        GuestPacket reset = bed.Expect(VsockOp.Reset);
        Assert.That(reset.Header.SourcePort, Is.EqualTo(local));
    }

    [Test]
    public void A_cancelled_connect_resets_the_connection()
    {
        using var bed = new VsockTestBed();
        using var cancel = new CancellationTokenSource();
        Task<VsockStream> connect = bed.Host.ConnectAsync(52, cancel.Token);
        bed.Expect(VsockOp.Request);
        cancel.Cancel();
        Assert.That(() => connect.Wait(), Throws.InstanceOf<AggregateException>().With.InnerException.InstanceOf<OperationCanceledException>());
        Assert.That(bed.Expect(VsockOp.Reset).Header.DestinationPort, Is.EqualTo(52u));
    }

    [Test]
    public void The_guest_shutting_down_its_sending_side_ends_the_programs_stream_and_the_program_can_still_write()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = Accept(bed);
        bed.Send(VsockTestBed.Header(VsockOp.ReadWrite, GuestPort, HostPort, 2), [7, 8]);
        bed.Send(VsockTestBed.Header(VsockOp.Shutdown, GuestPort, HostPort, flags: (uint)VsockShutdown.Send));
        byte[] buffer = new byte[8];
        Assert.That(stream.Read(buffer), Is.EqualTo(2));
        Assert.That(stream.Read(buffer), Is.Zero, "end of stream");
        stream.Write([9]);
        Assert.That(bed.Expect(VsockOp.ReadWrite).Payload, Is.EqualTo(new byte[] { 9 }));
    }

    [Test]
    public void The_guest_closing_gets_its_reset_and_the_program_reads_what_was_sent_then_the_end()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = Accept(bed);
        bed.Send(VsockTestBed.Header(VsockOp.ReadWrite, GuestPort, HostPort, 3), [1, 2, 3]);
        bed.Send(VsockTestBed.Header(VsockOp.Shutdown, GuestPort, HostPort, flags: (uint)VsockShutdown.Both));
        Assert.That(bed.Expect(VsockOp.Reset).Header.DestinationPort, Is.EqualTo(GuestPort));
        byte[] buffer = new byte[8];
        Assert.That(stream.Read(buffer), Is.EqualTo(3));
        Assert.That(stream.Read(buffer), Is.Zero);
        Assert.That(bed.Device.ConnectionCount, Is.Zero);
    }

    [Test]
    public void A_program_closing_its_stream_delivers_its_last_bytes_then_asks_the_guest_to_close()
    {
        using var bed = new VsockTestBed();
        VsockStream stream = Accept(bed);
        stream.Write([5, 6]);
        stream.Dispose();
        byte[] received = [];
        GuestPacket packet;
        while ((packet = bed.Receive()).Op == VsockOp.ReadWrite || packet.Op == VsockOp.CreditUpdate)
            received = [.. received, .. packet.Payload];
        Assert.That(received, Is.EqualTo(new byte[] { 5, 6 }));
        Assert.That(packet.Op, Is.EqualTo(VsockOp.Shutdown));
        Assert.That(packet.Header.Flags, Is.EqualTo((uint)VsockShutdown.Both));
        Assert.That(bed.Device.ConnectionCount, Is.EqualTo(1), "until the guest's reset");
        bed.Send(VsockTestBed.Header(VsockOp.Reset, GuestPort, HostPort));
        Assert.That(() => bed.Device.ConnectionCount, Is.Zero.After(5000, 10));
    }

    [Test]
    public void A_guest_reset_makes_the_programs_reads_fail()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = Accept(bed);
        bed.Send(VsockTestBed.Header(VsockOp.Reset, GuestPort, HostPort));
        Assert.That(() => stream.Read(new byte[8]), Throws.InstanceOf<IOException>());
        Assert.That(bed.TryReceive(100), Is.Null, "a reset is not answered");
    }

    [Test]
    public void A_credit_request_is_answered_with_a_credit_update()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = Accept(bed);
        bed.Send(VsockTestBed.Header(VsockOp.CreditRequest, GuestPort, HostPort));
        GuestPacket update = bed.Expect(VsockOp.CreditUpdate);
        Assert.That(update.Header.BufferAllocation, Is.EqualTo(256 * 1024));
    }

    [Test]
    public void Resetting_the_device_resets_every_programs_connection()
    {
        using var bed = new VsockTestBed();
        VsockStream accepted = Accept(bed);
        Task<VsockStream> connecting = bed.Host.ConnectAsync(52);
        bed.Expect(VsockOp.Request);
        bed.Device.Reset();
        Assert.Multiple(() =>
        {
            Assert.That(() => accepted.Read(new byte[8]), Throws.InstanceOf<IOException>());
            Assert.That(() => accepted.Write([1]), Throws.InstanceOf<IOException>());
            Assert.That(() => connecting.Wait(), Throws.InstanceOf<AggregateException>());
            Assert.That(bed.Host.IsDriverActive, Is.False);
        });
    }

    /// <summary>A guest connection from <see cref="GuestPort"/> to a program listening on <see cref="HostPort"/>, accepted.</summary>
    internal static VsockStream Accept(VsockTestBed bed, uint guestPort = GuestPort, uint hostPort = HostPort)
    {
        VsockListener listener = bed.Host.Listen(hostPort);
        bed.Send(VsockTestBed.Header(VsockOp.Request, guestPort, hostPort));
        bed.Expect(VsockOp.Response);
        VsockStream stream = listener.AcceptAsync().AsTask().Result;
        return stream;
    }
}
