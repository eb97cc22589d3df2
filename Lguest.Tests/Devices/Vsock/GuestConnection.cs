using Lguest.Devices;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>
/// One connection as the test guest's socket sees it, as Linux's virtio_transport keeps it: sends at most the
/// device's credit (its buf_alloc less what is in flight since its fwd_cnt), counts what it consumed as its own
/// fwd_cnt and sends a credit update when its free space falls below 64 KiB (what Linux does after a read).
/// Only for tests with this one connection: packets for others fail the test.
/// </summary>
internal sealed class GuestConnection(VsockTestBed bed, uint guestPort, uint hostPort)
{
    private const int MaxPacket = 64 * 1024;
    private readonly Queue<byte> _inbox = new();
    private uint _sent;
    private uint _peerForwarded;
    private uint _peerAllocation = VsockTestBed.GuestBufferAllocation;
    private uint _consumed;
    private uint _announced;

    public uint GuestPort => guestPort;

    public uint HostPort => hostPort;

    /// <summary>Whether the host's stream ended (SHUTDOWN with SEND).</summary>
    public bool EndOfStream { get; private set; }

    /// <summary>Whether a RST arrived.</summary>
    public bool WasReset { get; private set; }

    /// <summary>Packets other than RW, in order.</summary>
    public List<GuestPacket> Control { get; } = [];

    /// <summary>The largest RW payload received: never above the credit the guest gave.</summary>
    public uint LargestPayload { get; private set; }

    /// <summary>Asks for the connection (the guest's connect) and waits for the RESPONSE.</summary>
    public GuestConnection Open()
    {
        Send(VsockOp.Request);
        GuestPacket packet = bed.Expect(VsockOp.Response);
        Take(packet);
        return this;
    }

    /// <summary>Sends <paramref name="data"/>, waiting for credit as needed.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            uint credit = _peerAllocation - (_sent - _peerForwarded);
            if (credit == 0)
            {
                Take(bed.Receive()); // a credit update (or any packet) brings more
                continue;
            }
            int n = (int)Math.Min(Math.Min((uint)data.Length, credit), MaxPacket);
            Send(VsockOp.ReadWrite, data[..n]);
            _sent += (uint)n;
            data = data[n..];
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes (fails at the end of the stream).</summary>
    public byte[] Read(int count)
    {
        while (_inbox.Count < count)
        {
            if (EndOfStream || WasReset)
                Assert.Fail($"the stream ended after {_inbox.Count} of {count} bytes");
            Take(bed.Receive());
        }
        var data = new byte[count];
        for (int i = 0; i < count; i++)
            data[i] = _inbox.Dequeue();
        Consumed((uint)count);
        return data;
    }

    /// <summary>Reads until the host's stream ends, giving credit back as it goes.</summary>
    public byte[] ReadToEnd()
    {
        var all = new List<byte>();
        while (true)
        {
            while (_inbox.Count > 0)
                all.Add(_inbox.Dequeue());
            Consumed((uint)all.Count - _consumed);
            if (EndOfStream || WasReset)
                return [.. all];
            Take(bed.Receive());
        }
    }

    /// <summary>Sends a SHUTDOWN with <paramref name="flags"/>.</summary>
    public void Shutdown(VsockShutdown flags) => Send(VsockOp.Shutdown, flags: flags);

    /// <summary>Takes one packet the test received for this connection.</summary>
    public void Take(GuestPacket packet)
    {
        Assert.That((packet.Header.SourcePort, packet.Header.DestinationPort), Is.EqualTo((hostPort, guestPort)), $"a packet for another connection: {packet}");
        _peerAllocation = packet.Header.BufferAllocation;
        _peerForwarded = packet.Header.ForwardCount;
        switch (packet.Op)
        {
            case VsockOp.ReadWrite:
                Assert.That(_inbox.Count + packet.Payload.Length, Is.LessThanOrEqualTo((int)VsockTestBed.GuestBufferAllocation), "the device sent past the guest's credit");
                LargestPayload = Math.Max(LargestPayload, (uint)packet.Payload.Length);
                foreach (byte b in packet.Payload)
                    _inbox.Enqueue(b);
                return;
            case VsockOp.Shutdown when (packet.Header.Flags & (uint)VsockShutdown.Send) != 0:
                EndOfStream = true;
                break;
            case VsockOp.Reset:
                WasReset = true;
                break;
            case VsockOp.CreditRequest:
                Send(VsockOp.CreditUpdate);
                break;
        }
        Control.Add(packet);
    }

    public VsockHeader Header(VsockOp op, uint length = 0, uint flags = 0) =>
        VsockTestBed.Header(op, guestPort, hostPort, length, flags, VsockTestBed.GuestBufferAllocation, _consumed);

    private void Consumed(uint bytes)
    {
        _consumed += bytes;
        // Linux: a credit update once the free space the device knows of falls below 64 KiB.
        uint unannounced = _consumed - _announced;
        uint knownFree = VsockTestBed.GuestBufferAllocation - ((uint)_inbox.Count + unannounced);
        if (unannounced > 0 && knownFree < MaxPacket)
            Send(VsockOp.CreditUpdate);
    }

    /// <summary>Sends a packet of this connection; every packet tells the device the guest's fwd_cnt.</summary>
    public void Send(VsockOp op, ReadOnlySpan<byte> payload = default, VsockShutdown flags = VsockShutdown.None)
    {
        bed.Send(Header(op, (uint)payload.Length, (uint)flags), payload);
        _announced = _consumed;
    }
}
