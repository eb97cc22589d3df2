using System.Net.Sockets;
using Lguest.Devices;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>
/// The transmit queue served on the thread that kicks it (<see cref="VirtioVsockOptions.ServeOnVcpu"/>, a vCPU in its
/// exit) while the worker sleeps: the guest's data is in the host program's socket when the kick returns, and the
/// packets of one pass of the queue go out in one write.
/// </summary>
public class VsockOnVcpuTests
{
    private const uint GuestPort = 1025;

    [Test]
    public void A_kick_while_the_worker_sleeps_puts_the_data_in_the_host_socket_before_it_returns()
    {
        using var bed = new VsockTestBed(unixSocket: true);
        using Socket listener = VsockUnixSocketTests.Listen(bed.SocketPath + "_5000");
        var guest = new GuestConnection(bed, GuestPort, 5000).Open();
        using Socket program = listener.Accept();

        // The worker sleeps once it has nothing to do; a kick then finds the queue free. Up to ten tries, in case a
        // loaded host has not let the worker reach its sleep yet.
        bool servedOnKick = false;
        for (int attempt = 0; attempt < 10 && !servedOnKick; attempt++)
        {
            Thread.Sleep(100);
            byte[] payload = [1, 2, 3, 4];
            byte[] bytes = new byte[VsockHeader.Size + payload.Length];
            VsockTestBed.Header(VsockOp.ReadWrite, GuestPort, 5000, (uint)payload.Length).Write(bytes);
            payload.CopyTo(bytes.AsSpan(VsockHeader.Size));
            bed.Tx.Add(bed.Tx.Readable(bytes));
            bed.Tx.Kick();
            servedOnKick = program.Available == payload.Length;
            Assert.That(VsockUnixSocketTests.ReadExactly(program, payload.Length), Is.EqualTo(payload));
        }
        Assert.That(servedOnKick, Is.True, "the data was written on the kicking thread");
        GC.KeepAlive(guest);
    }

    [Test]
    public void Packets_of_one_pass_reach_the_host_program_whole_and_in_order()
    {
        // Many small packets in one kick: gathered into one write, byte for byte as sent.
        using var bed = new VsockTestBed(unixSocket: true, queueSize: 256);
        using Socket listener = VsockUnixSocketTests.Listen(bed.SocketPath + "_5000");
        var guest = new GuestConnection(bed, GuestPort, 5000).Open();
        using Socket program = listener.Accept();
        var data = new byte[200 * 1000];
        new Random(5).NextBytes(data);
        for (int offset = 0; offset < data.Length; offset += 1000)
        {
            byte[] bytes = new byte[VsockHeader.Size + 1000];
            VsockTestBed.Header(VsockOp.ReadWrite, GuestPort, 5000, 1000).Write(bytes);
            data.AsSpan(offset, 1000).CopyTo(bytes.AsSpan(VsockHeader.Size));
            bed.Tx.Add(bed.Tx.Readable(bytes));
        }
        bed.Tx.Kick();
        Assert.That(VsockUnixSocketTests.ReadExactly(program, data.Length), Is.EqualTo(data));
        GC.KeepAlive(guest);
    }
}
