using System.Net.Sockets;
using System.Text;
using Lguest.Devices;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>Connections opened and closed over and over leave nothing behind: no connection, no descriptor.</summary>
public class VsockChurnTests
{
    [Test]
    public void A_thousand_host_connections_opened_and_closed_leave_no_connection_or_descriptor_behind()
    {
        using var bed = new VsockTestBed(unixSocket: true);
        Cycle(bed, 50); // warm-up: the runtime's own descriptors (epoll, the thread pool) settle
        int before = Directory.GetFiles("/proc/self/fd").Length;
        Cycle(bed, 1000);
        Assert.That(() => bed.Device.ConnectionCount, Is.Zero.After(5000, 10));
        Assert.That(Directory.GetFiles("/proc/self/fd").Length, Is.LessThanOrEqualTo(before + 2), "descriptors after 1,000 connections");
    }

    // One connection as a host program and a Linux guest make it: CONNECT, OK, a byte each way, the host closes,
    // the guest sees the end of stream and closes too (SHUTDOWN both), the device answers with RST.
    private static void Cycle(VsockTestBed bed, int count)
    {
        for (int i = 0; i < count; i++)
        {
            GuestConnection guest = null!;
            using (Socket program = VsockUnixSocketTests.ConnectToGuest(bed, 5000, local => (guest = new GuestConnection(bed, 5000, local)).Send(VsockOp.Response)))
            {
                program.Send([(byte)i]);
                Assert.That(guest.Read(1), Is.EqualTo(new[] { (byte)i }));
                guest.Write([(byte)i]);
                Assert.That(VsockUnixSocketTests.ReadExactly(program, 1), Is.EqualTo(new[] { (byte)i }));
                program.Close();
                Assert.That(guest.ReadToEnd(), Is.Empty);
                guest.Shutdown(VsockShutdown.Both);
                while (!guest.WasReset)
                    guest.Take(bed.Receive());
            }
        }
    }
}
