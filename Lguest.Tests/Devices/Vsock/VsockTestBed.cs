using Lguest.Devices;
using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>
/// A vsock device in 32 MiB of real guest memory, driven by a test guest on its three queues the way Linux's
/// virtio_transport does it: receive buffers of 4 KiB plus the header, one transmit chain per packet (header
/// and payload), and the packets' header fields written by the test. The host side is a <see cref="VsockHost"/>
/// (with a Unix socket in a temporary folder when asked).
/// </summary>
internal sealed class VsockTestBed : IDisposable
{
    public const ulong GuestCid = 3;
    public const ulong Features = VirtioFeatures.Version1 | VirtioFeatures.RingEventIndex | VirtioFeatures.RingIndirectDescriptors;

    /// <summary>Linux's VIRTIO_VSOCK_DEFAULT_RX_BUF_SIZE: the payload room of each receive buffer.</summary>
    public const uint RxPayload = 4096;

    /// <summary>The receive buffer a guest socket advertises in this test guest (Linux's default).</summary>
    public const uint GuestBufferAllocation = 256 * 1024;

    private readonly Dictionary<ushort, DriverBuffer> _rxBuffers = [];
    private readonly GuestArena _txArena;
    private readonly TemporaryFolder? _folder;
    private int _txOutstanding;

    public VsockTestBed(bool unixSocket = false, TimeProvider? clock = null, ushort queueSize = 64, int rxBuffers = 32, bool activate = true, bool serveOnVcpu = true)
    {
        Memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(32 << 20));
        var rxArena = new GuestArena(new GuestAddress(1 << 20), 3 << 20);
        _txArena = new GuestArena(new GuestAddress(4 << 20), 28 << 20);
        Rx = new VirtqueueDriver(Memory, VirtioVsockDevice.ReceiveQueue, queueSize, Features, new GuestAddress(0x10000), rxArena);
        Tx = new VirtqueueDriver(Memory, VirtioVsockDevice.TransmitQueue, queueSize, Features, new GuestAddress(0x40000), _txArena);
        Event = new VirtqueueDriver(Memory, VirtioVsockDevice.EventQueue, 8, Features, new GuestAddress(0x70000), rxArena);
        for (int i = 0; i < rxBuffers; i++)
            RxPool.Add(Rx.Writable(VsockHeader.Size + RxPayload));
        if (unixSocket)
        {
            _folder = new TemporaryFolder();
            SocketPath = Path.Combine(_folder.Path, "v.sock");
        }
        Options = new VirtioVsockOptions { GuestCid = GuestCid, UnixSocketPath = SocketPath, QueueSize = queueSize, Name = "vsock", ServeOnVcpu = serveOnVcpu };
        Host = new VsockHost(Options, null, clock);
        Host.Start();
        Device = new VirtioVsockDevice(Memory, Host, Options, NullLogger<VirtioVsockDevice>.Instance);
        if (activate)
            Activate();
    }

    public GuestMemory Memory { get; }

    public VirtqueueDriver Rx { get; }

    public VirtqueueDriver Tx { get; }

    public VirtqueueDriver Event { get; }

    public List<DriverBuffer> RxPool { get; } = [];

    public VirtioVsockOptions Options { get; }

    public string? SocketPath { get; }

    public VsockHost Host { get; }

    public VirtioVsockDevice Device { get; }

    public RecordingVirtioTransport Transport { get; } = new();

    /// <summary>Posts the receive buffers and starts the device, as the driver's DRIVER_OK does.</summary>
    public void Activate()
    {
        _rxBuffers.Clear();
        foreach (DriverBuffer buffer in RxPool)
            _rxBuffers[Rx.Add(buffer)] = buffer;
        Rx.Kick();
        // Transmit kicks go through the queue, as the transport's MMIO path: served on this thread while the worker sleeps.
        Virtqueue tx = Tx.CreateQueue("vsock vq 1");
        Tx.NotifyThrough = tx;
        Device.Activate(new VirtioActivation(Features, [Rx.CreateQueue("vsock vq 0"), tx, Event.CreateQueue("vsock vq 2")], Transport));
    }

    /// <summary>Posts <paramref name="count"/> more receive buffers (of the usual size), as a driver refilling its queue.</summary>
    public void PostReceiveBuffers(int count)
    {
        for (int i = 0; i < count; i++)
        {
            DriverBuffer buffer = Rx.Writable(VsockHeader.Size + RxPayload);
            RxPool.Add(buffer);
            _rxBuffers[Rx.Add(buffer)] = buffer;
        }
        Rx.Kick();
    }

    /// <summary>A header from the guest (CID 3) to the host (CID 2).</summary>
    public static VsockHeader Header(VsockOp op, uint guestPort, uint hostPort, uint length = 0, uint flags = 0,
        uint bufferAllocation = GuestBufferAllocation, uint forwardCount = 0) => new()
        {
            SourceCid = GuestCid,
            DestinationCid = VsockHeader.HostCid,
            SourcePort = guestPort,
            DestinationPort = hostPort,
            Length = length,
            Type = VsockHeader.TypeStream,
            Op = (ushort)op,
            Flags = flags,
            BufferAllocation = bufferAllocation,
            ForwardCount = forwardCount,
        };

    /// <summary>Puts one packet (header and payload in one buffer) on the transmit queue, notifies, waits for it back.</summary>
    public void Send(VsockHeader header, ReadOnlySpan<byte> payload = default)
    {
        byte[] bytes = new byte[VsockHeader.Size + payload.Length];
        header.Write(bytes);
        payload.CopyTo(bytes.AsSpan(VsockHeader.Size));
        SendRaw(Tx.Readable(bytes));
    }

    /// <summary>Puts one chain of the given buffers on the transmit queue, notifies, waits for it back.</summary>
    public void SendRaw(params DriverBuffer[] buffers)
    {
        if (_txOutstanding == 0)
            _txArena.Reset();
        ushort head = Tx.Add(buffers);
        _txOutstanding++;
        Tx.Kick();
        long deadline = Environment.TickCount64 + VirtqueueDriver.PatienceMilliseconds;
        while (true)
        {
            while (Tx.TryTakeUsed(out VringUsedElement used))
            {
                _txOutstanding--;
                if (used.Id == head)
                    return;
            }
            if (Environment.TickCount64 > deadline)
                Assert.Fail($"the device did not return transmit chain {head} within {VirtqueueDriver.PatienceMilliseconds} ms");
            if (Transport.BadDrivers.Count != 0)
                return;
            Transport.Interrupt.Wait(timeoutMilliseconds: 5);
        }
    }

    /// <summary>The next packet the device gives the guest (the buffer is posted again).</summary>
    public GuestPacket Receive() => TryReceive(VirtqueueDriver.PatienceMilliseconds)
        ?? throw new AssertionException($"the device gave the guest no packet within {VirtqueueDriver.PatienceMilliseconds} ms");

    /// <summary>The next packet within <paramref name="milliseconds"/>, or null.</summary>
    public GuestPacket? TryReceive(int milliseconds)
    {
        long deadline = Environment.TickCount64 + milliseconds;
        while (true)
        {
            if (Rx.TryTakeUsed(out VringUsedElement used))
            {
                DriverBuffer buffer = _rxBuffers[(ushort)used.Id];
                _rxBuffers.Remove((ushort)used.Id);
                byte[] bytes = Rx.ReadBuffer(buffer);
                Assert.That(used.Length, Is.GreaterThanOrEqualTo((uint)VsockHeader.Size).And.LessThanOrEqualTo(buffer.Length), "used length");
                var header = VsockHeader.Read(bytes);
                Assert.That(used.Length, Is.EqualTo(VsockHeader.Size + header.Length), "used length is the header plus len");
                _rxBuffers[Rx.Add(buffer)] = buffer;
                Rx.Kick();
                return new GuestPacket(header, bytes.AsSpan(VsockHeader.Size, (int)header.Length).ToArray());
            }
            if (Environment.TickCount64 > deadline)
                return null;
            Transport.Interrupt.Wait(timeoutMilliseconds: 5);
        }
    }

    /// <summary>Receives packets until one with <paramref name="op"/> comes, skipping credit updates; fails on any other.</summary>
    public GuestPacket Expect(VsockOp op)
    {
        while (true)
        {
            GuestPacket packet = Receive();
            if (packet.Op == op)
                return packet;
            if (packet.Op != VsockOp.CreditUpdate)
                Assert.Fail($"expected {op}, the guest got {packet}");
        }
    }

    public void Dispose()
    {
        Device.Reset();
        Host.Dispose();
        Rx.Dispose();
        Tx.Dispose();
        Event.Dispose();
        Transport.Dispose();
        Memory.Dispose();
        _folder?.Dispose();
    }
}

/// <summary>A packet the test guest received.</summary>
internal sealed record GuestPacket(VsockHeader Header, byte[] Payload)
{
    public VsockOp Op => (VsockOp)Header.Op;

    public override string ToString() => $"{Op}: {Header}";
}
