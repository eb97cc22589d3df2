using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Lguest.Devices;
using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Tests.Devices.Net;

/// <summary>
/// A network card on a real tap inside a network namespace of its own: the host end at 10.99.0.1/24
/// with a UDP socket on port 9000, the guest at 10.99.0.2 (a permanent neighbour entry, so the host
/// sends without ARP) driven by test drivers on its receive and transmit queues in 32 MiB of guest memory.
/// </summary>
internal sealed class NetTestBed : IDisposable
{
    public const ushort HostPort = 9000;
    public const ushort GuestPort = 9001;
    public const ulong RingFeatures = VirtioFeatures.Version1 | VirtioFeatures.RingEventIndex | VirtioFeatures.RingIndirectDescriptors;

    public static readonly IPAddress HostIp = IPAddress.Parse("10.99.0.1");
    public static readonly IPAddress GuestIp = IPAddress.Parse("10.99.0.2");
    public static readonly MacAddress GuestMac = MacAddress.Parse("52:54:00:99:00:02");

    private readonly NetworkNamespace _ns;
    private readonly TapDevice _tap;

    public NetTestBed(ulong features = RingFeatures, ushort queueSize = 256, bool activate = true, VirtioNetOptions? options = null)
    {
        _ns = NetworkNamespace.CreateOrIgnore();
        try
        {
            Options = options ?? new VirtioNetOptions();
            Options.Tunnet = TunnetSpec.ForAddress(HostIp, 24, GuestMac);
            Options.QueueSize = queueSize;
            Options.Name = "net0";
            (_tap, int mtu) = _ns.Run(() => VirtioNetFactory.Open(Options));
            Mtu = mtu;
            TapMac = MacAddress.Parse(_ns.Ip("-o", "link", "show", "dev", _tap.Name).Split("link/ether ")[1][..17]);
            _ns.Ip("neigh", "replace", GuestIp.ToString(), "lladdr", GuestMac.ToString(), "dev", _tap.Name, "nud", "permanent");
            HostSocket = _ns.Run(() =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = VirtqueueDriver.PatienceMilliseconds };
                socket.ReceiveBufferSize = 4 << 20;
                socket.Bind(new IPEndPoint(HostIp, HostPort));
                return socket;
            });
            Memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(32 << 20));
            Arena = new GuestArena(new GuestAddress(1 << 20), 31 << 20);
            Rx = new VirtqueueDriver(Memory, VirtioNetDevice.ReceiveQueue, queueSize, features, new GuestAddress(0x10000), Arena);
            Tx = new VirtqueueDriver(Memory, VirtioNetDevice.TransmitQueue, queueSize, features, new GuestAddress(0x90000), Arena);
            Device = new VirtioNetDevice(Memory, _tap, GuestMac, mtu, Options, NullLogger<VirtioNetDevice>.Instance);
            Features = features;
            if (activate)
                Activate();
        }
        catch
        {
            _ns.Dispose();
            throw;
        }
    }

    public VirtioNetOptions Options { get; }

    public int Mtu { get; }

    public MacAddress TapMac { get; }

    public string TapName => _tap.Name;

    internal TapDevice Tap => _tap;

    public NetworkNamespace Namespace => _ns;

    public Socket HostSocket { get; }

    public GuestMemory Memory { get; }

    public GuestArena Arena { get; }

    public VirtqueueDriver Rx { get; }

    public VirtqueueDriver Tx { get; }

    public VirtioNetDevice Device { get; }

    public VirtioNetCounters Counters => Device.Counters;

    public RecordingVirtioTransport Transport { get; } = new();

    public ulong Features { get; }

    /// <summary>The transmit queue of the last activation: <see cref="Virtqueue.Notify"/> on it is a vCPU's notification.</summary>
    public Virtqueue? TxQueue { get; private set; }

    public void Activate()
    {
        TxQueue = Tx.CreateQueue("net0 vq 1");
        Device.Activate(new VirtioActivation(Features, [Rx.CreateQueue("net0 vq 0"), TxQueue], Transport));
    }

    /// <summary>Publishes the transmit chains added and notifies as a transport delivers a vCPU's notification: <see cref="Virtqueue.Notify"/> on this thread.</summary>
    public void KickTransmitFromVcpu()
    {
        Tx.Publish();
        TxQueue!.Notify();
    }

    /// <summary>A frame from the guest to the host's socket, with correct checksums.</summary>
    public byte[] GuestToHost(ReadOnlySpan<byte> payload) =>
        EthernetFrames.Udp(GuestMac, TapMac, GuestIp, HostIp, GuestPort, HostPort, payload);

    /// <summary>A virtio-net header as a byte array.</summary>
    public static byte[] Header(byte flags = 0, byte gsoType = 0, ushort gsoSize = 0, ushort csumStart = 0, ushort csumOffset = 0)
    {
        var header = new byte[VirtioNetHeader.Size];
        header[0] = flags;
        header[1] = gsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), gsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), csumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), csumOffset);
        return header;
    }

    /// <summary>Sends <paramref name="frame"/> behind <paramref name="header"/> (default: a zero header) in one buffer; returns the used element.</summary>
    public VringUsedElement Transmit(byte[] frame, byte[]? header = null)
    {
        ushort head = Tx.Add(Tx.Readable([.. header ?? Header(), .. frame]));
        Tx.Kick();
        VringUsedElement used = Tx.WaitForUsed(Transport);
        Assert.That(used.Id, Is.EqualTo(head));
        return used;
    }

    /// <summary>The next datagram the host socket receives.</summary>
    public byte[] HostReceive()
    {
        var buffer = new byte[65536];
        int n = HostSocket.Receive(buffer);
        return buffer[..n];
    }

    /// <summary>Whether a datagram is waiting on the host socket.</summary>
    public bool HostHasDatagram => HostSocket.Available > 0 || HostSocket.Poll(0, SelectMode.SelectRead);

    /// <summary>Sends a datagram from the host socket to the guest's port.</summary>
    public void HostSend(ReadOnlySpan<byte> payload) => HostSocket.SendTo(payload, SocketFlags.None, new IPEndPoint(GuestIp, GuestPort));

    /// <summary>Posts a receive chain of one writable buffer of <paramref name="length"/> bytes.</summary>
    public DriverBuffer PostReceive(uint length)
    {
        DriverBuffer buffer = Rx.Writable(length);
        Rx.Add(buffer);
        Rx.Kick();
        return buffer;
    }

    public void Dispose()
    {
        Device.Reset();
        HostSocket.Dispose();
        _tap.Dispose();
        Rx.Dispose();
        Tx.Dispose();
        Transport.Dispose();
        Memory.Dispose();
        _ns.Dispose();
    }
}
