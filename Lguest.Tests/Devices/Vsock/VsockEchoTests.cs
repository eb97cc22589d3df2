using System.Net.Sockets;
using System.Security.Cryptography;
using Lguest.Devices;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>
/// Many connections at once through Firecracker's Unix socket, as the bed's <c>vsock-peer many</c> makes them: each
/// host program writes its own data and reads the echo at the same time, the guest echoes every connection from one
/// loop (as Linux's driver serves them all from one pair of queues), within the device's credit.
/// </summary>
public class VsockEchoTests
{
    private const int Connections = 16;
    private const int BytesEach = 1 << 20;

    [TestCase(true, TestName = "Sixteen_connections_echo_a_MiB_each_at_once_intact(transmit served on the kicking thread)")]
    [TestCase(false, TestName = "Sixteen_connections_echo_a_MiB_each_at_once_intact(transmit served by the worker)")]
    public void Sixteen_connections_echo_a_MiB_each_at_once_intact(bool serveOnVcpu)
    {
        using var bed = new VsockTestBed(unixSocket: true, serveOnVcpu: serveOnVcpu);
        var guests = new Dictionary<uint, EchoGuest>();
        var programs = new List<(Socket Socket, byte[] Data, Task<byte[]> Reads)>();
        for (int i = 0; i < Connections; i++)
        {
            Socket program = VsockUnixSocketTests.ConnectToGuest(bed, 5000, local =>
            {
                guests[local] = new EchoGuest(bed, 5000, local);
                bed.Send(guests[local].Header(VsockOp.Response));
            });
            programs.Add((program, RandomNumberGenerator.GetBytes(BytesEach), null!));
        }
        for (int i = 0; i < programs.Count; i++)
        {
            (Socket socket, byte[] data, _) = programs[i];
            _ = Task.Run(() =>
            {
                for (int offset = 0; offset < data.Length; offset += 65536)
                    socket.Send(data.AsSpan(offset, 65536));
            });
            programs[i] = (socket, data, Task.Run(() => VsockUnixSocketTests.ReadExactly(socket, data.Length)));
        }

        // The guest: every packet goes to its connection, which echoes what came as far as the device's credit allows.
        long echoedGoal = (long)Connections * BytesEach;
        long deadline = Environment.TickCount64 + 60_000;
        while (guests.Values.Sum(g => g.Echoed) < echoedGoal && Environment.TickCount64 < deadline)
        {
            if (bed.TryReceive(100) is { } packet && guests.TryGetValue(packet.Header.SourcePort, out EchoGuest? guest))
                guest.Take(packet);
            foreach (EchoGuest g in guests.Values)
                g.Flush();
        }
        Assert.That(guests.Values.Sum(g => g.Echoed), Is.EqualTo(echoedGoal), "bytes the guest echoed");
        foreach ((Socket socket, byte[] data, Task<byte[]> reads) in programs)
        {
            Assert.That(reads.Wait(30_000), Is.True, "a program's reads");
            Assert.That(SHA256.HashData(reads.Result), Is.EqualTo(SHA256.HashData(data)));
            socket.Dispose();
        }
    }

    // One connection of the echoing guest: what it received waits to be sent back within the device's credit.
    private sealed class EchoGuest(VsockTestBed bed, uint guestPort, uint hostPort)
    {
        private readonly Queue<byte[]> _toSend = new();
        private uint _consumed, _announced, _sent, _deviceAllocation = VsockConnection.BufferSize, _deviceForwarded;

        public long Echoed { get; private set; }

        public VsockHeader Header(VsockOp op, uint length = 0)
        {
            _announced = _consumed; // every packet tells the device the guest's fwd_cnt
            return VsockTestBed.Header(op, guestPort, hostPort, length, 0, VsockTestBed.GuestBufferAllocation, _consumed);
        }

        public void Take(GuestPacket packet)
        {
            _deviceAllocation = packet.Header.BufferAllocation;
            _deviceForwarded = packet.Header.ForwardCount;
            if (packet.Op == VsockOp.ReadWrite)
            {
                _toSend.Enqueue(packet.Payload);
                _consumed += (uint)packet.Payload.Length; // taken by the echo at once
                if (_consumed - _announced > VsockTestBed.GuestBufferAllocation - 65536)
                    bed.Send(Header(VsockOp.CreditUpdate)); // Linux: once the device's idea of its room falls below 64 KiB
            }
            else if (packet.Op == VsockOp.CreditRequest)
            {
                bed.Send(Header(VsockOp.CreditUpdate));
            }
        }

        public void Flush()
        {
            while (_toSend.TryPeek(out byte[]? data))
            {
                uint credit = _deviceAllocation - (_sent - _deviceForwarded);
                if (credit < data.Length)
                    return;
                bed.Send(Header(VsockOp.ReadWrite, (uint)data.Length), data);
                _sent += (uint)data.Length;
                Echoed += data.Length;
                _toSend.Dequeue();
            }
        }
    }
}
