using System.Net.Sockets;
using System.Text;
using Lguest.Devices;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>A paused machine's vsock device keeps its connections: resuming serves the same ones again.</summary>
public class VsockPauseTests
{
    private const uint GuestPort = 1025;
    private const uint HostPort = 5000;

    [Test]
    public void A_programs_stream_outlives_a_pause_and_moves_data_both_ways_after_resume()
    {
        using var bed = new VsockTestBed();
        using VsockStream stream = VsockProtocolTests.Accept(bed);
        bed.Device.Pause();
        Assert.That(bed.Device.ConnectionCount, Is.EqualTo(1), "paused");
        // While paused the guest's data waits in its ring.
        Task send = Task.Run(() => bed.Send(VsockTestBed.Header(VsockOp.ReadWrite, GuestPort, HostPort, 5), "after"u8));
        byte[] received = new byte[5];
        Task<int> read = stream.ReadAsync(received).AsTask();
        Assert.That(read.Wait(300), Is.False, "nothing moves while the device is paused");
        bed.Device.Resume();
        Assert.That(bed.Transport.DeviceFailures.Select(f => f.Error?.ToString() ?? f.What), Is.Empty, "the worker after resume");

        Assert.That(send.Wait(TimeSpan.FromSeconds(30)), Is.True, "the guest's packet is served after resume");
        Assert.That(bed.Transport.BadDrivers, Is.Empty);
        Assert.That(bed.Transport.DeviceFailures.Select(f => f.Error?.ToString() ?? f.What), Is.Empty);
        bool done = read.Wait(TimeSpan.FromSeconds(10));
        Assert.That(done, Is.True, $"and reaches the program (connections {bed.Device.ConnectionCount}, the guest got {bed.TryReceive(500)?.ToString() ?? "nothing"})");
        Assert.That(Encoding.ASCII.GetString(received, 0, read.Result), Is.EqualTo("after"));
        Assert.That(bed.Device.ConnectionCount, Is.EqualTo(1), "the connection outlived the pause");
        stream.Write("back"u8);
        stream.Flush();
        Assert.That(Encoding.ASCII.GetString(bed.Expect(VsockOp.ReadWrite).Payload), Is.EqualTo("back"));
    }

    [Test]
    public void A_host_programs_unix_socket_outlives_a_pause_and_what_it_wrote_meanwhile_reaches_the_guest()
    {
        using var bed = new VsockTestBed(unixSocket: true);
        using Socket program = VsockUnixSocketTests.Connect(bed.SocketPath!);
        program.Send("CONNECT 52\n"u8);
        uint local = bed.Expect(VsockOp.Request).Header.SourcePort;
        var guest = new GuestConnection(bed, 52, local);
        guest.Send(VsockOp.Response);
        Assert.That(VsockUnixSocketTests.ReadLine(program), Is.EqualTo($"OK {local}"));

        bed.Device.Pause();
        program.Send("written while paused"u8); // the socket's readiness waits in the device's epoll set
        bed.Device.Resume();
        Assert.That(bed.Transport.DeviceFailures.Select(f => f.Error?.ToString() ?? f.What), Is.Empty, "the worker after resume");
        Assert.That(Encoding.ASCII.GetString(guest.Read(20)), Is.EqualTo("written while paused"));
        guest.Write("and back"u8);
        Assert.That(VsockUnixSocketTests.ReadExactly(program, 8), Is.EqualTo("and back"u8.ToArray()));
    }
}
