using System.Net.Sockets;
using Lguest.Devices;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>
/// Host data read into several of the guest's 4 KiB receive buffers at once (one read per turn of a connection,
/// <see cref="VsockReceiveChains"/>): the bytes arrive whole and in order, a packet per buffer, and chains the read
/// did not fill are used, in order, by what comes next.
/// </summary>
public class VsockReceiveChainsTests
{
    private const uint GuestPort = 1025;

    [Test]
    public void Host_data_fills_several_receive_buffers_in_order_a_packet_each()
    {
        using var bed = new VsockTestBed(unixSocket: true);
        using Socket listener = VsockUnixSocketTests.Listen(bed.SocketPath + "_5000");
        var guest = new GuestConnection(bed, GuestPort, 5000).Open();
        using Socket program = listener.Accept();
        byte[] data = Pattern(3 * VsockPacket.MaxPayload + 1000); // within the program socket's buffers: this thread is the guest too
        program.Send(data);
        Assert.That(guest.Read(data.Length), Is.EqualTo(data));
        Assert.That(guest.LargestPayload, Is.LessThanOrEqualTo(VsockTestBed.RxPayload), "one packet per receive buffer");

        // A read shorter than the chains held leaves the rest for the next data, still in the ring's order.
        byte[] more = Pattern(6000, seed: 7);
        program.Send(more.AsSpan(0, 100));
        Assert.That(guest.Read(100), Is.EqualTo(more[..100]));
        program.Send(more.AsSpan(100));
        Assert.That(guest.Read(more.Length - 100), Is.EqualTo(more[100..]));
    }

    [Test]
    public void A_receive_buffer_with_room_for_a_header_only_carries_a_credit_update_and_the_data_goes_on()
    {
        // A driver may post a buffer for the header alone (Linux never does): it cannot carry data, and was taken
        // for the end of the host's stream (an empty read) before.
        using var bed = new VsockTestBed(unixSocket: true, rxBuffers: 0, activate: false);
        bed.RxPool.Add(bed.Rx.Writable(VsockHeader.Size));
        for (int i = 0; i < 8; i++)
            bed.RxPool.Add(bed.Rx.Writable(VsockHeader.Size + VsockTestBed.RxPayload));
        bed.Activate();
        using Socket listener = VsockUnixSocketTests.Listen(bed.SocketPath + "_5000");
        var guest = new GuestConnection(bed, GuestPort, 5000).Open(); // the RESPONSE took the small buffer, now last
        using Socket program = listener.Accept();
        byte[] data = Pattern(20 * (int)VsockTestBed.RxPayload);
        program.Send(data);
        Assert.That(guest.Read(data.Length), Is.EqualTo(data));
        Assert.That(guest.EndOfStream || guest.WasReset, Is.False, "the stream goes on");
        Assert.That(guest.Control.Any(p => p.Op == VsockOp.CreditUpdate), Is.True, "the small buffer carried a credit update");
        program.Close();
        Assert.That(guest.ReadToEnd(), Is.Empty);
        Assert.That(guest.EndOfStream, Is.True);
    }

    private static byte[] Pattern(int length, int seed = 1)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
