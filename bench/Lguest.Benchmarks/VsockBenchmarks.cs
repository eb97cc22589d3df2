using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Lguest.Devices;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Benchmarks;

/// <summary>
/// The vsock device with no guest CPU in the loop, on Firecracker's hybrid vsock: the guest's connection to host
/// port 5000 goes to the Unix socket <c>&lt;uds&gt;_5000</c> where this benchmark listens, and this thread plays both
/// the guest's driver (writes packets and receive buffers into guest memory, publishes, notifies, sleeps on the
/// interrupt) and the host program (reads or writes its end of the socket). Beside it, the same bytes through a
/// Unix socket pair with no device: this thread writes them from the same guest buffers into one end and reads
/// them from the other. One operation = one round of <see cref="RoundBytes"/> (256 KiB, the device's credit for one
/// connection) in packets of <see cref="PacketBytes"/>.
/// </summary>
/// <remarks>Run with <c>dotnet run -c Release -- --filter *VsockBenchmarks*</c>.</remarks>
[MemoryDiagnoser]
public class VsockBenchmarks
{
    /// <summary>Bytes per round: the device's advertised buffer, so a round never waits for a credit update.</summary>
    public const int RoundBytes = 256 * 1024;

    private const int QueueSize = 256;
    private const int RxBytes = 1 << 20;
    private const uint GuestPort = 1025;
    private const uint HostPort = 5000;
    private const ulong Features = VirtioFeatures.Version1 | VirtioFeatures.RingEventIndex | VirtioFeatures.RingIndirectDescriptors;
    private const int Header = VsockHeader.Size;
    private const int CreditSlots = 16; // transmit descriptors for the guest's credit updates (after the Depth data ones)
    private static readonly GuestAddress RxRing = new(0x10000);
    private static readonly GuestAddress TxRing = new(0x30000);
    private static readonly GuestAddress EventRing = new(0x50000);
    private static readonly GuestAddress RxData = new(0x100000);
    private static readonly GuestAddress TxData = new(0x1000000);

    private string _folder = null!;
    private GuestMemory _memory = null!;
    private EventNotifier _rxNotify = null!;
    private EventNotifier _txNotify = null!;
    private EventNotifier _eventNotify = null!;
    private Virtqueue? _rxQueue, _txQueue; // the device's queues: notifications go through them, as a transport's
    private InterruptTransport _transport = null!;
    private VsockHost? _host;
    private VirtioVsockDevice? _device;
    private Socket _peer = null!;   // the host program's end (device) or the pair's reading end
    private Socket? _near;          // the pair's writing end
    private byte[] _sink = null!;
    private ushort _rxAvail, _txAvail, _rxUsed;
    private ushort[] _rxFree = [];  // receive descriptors not in the ring
    private int _rxFreeCount;
    private uint _received;         // payload bytes the guest took: its fwd_cnt
    private uint _sent;             // payload bytes the guest sent
    private uint _deviceForwarded;  // the device's fwd_cnt, as its last packet told the guest
    private int _nextTx;            // the next transmit descriptor to use, round-robin over 0..Depth-1
    private int _nextCredit;        // the next of the credit updates' descriptors, round-robin over Depth..Depth+CreditSlots-1
    private Thread? _reader;        // the host program: reads its end of the socket as fast as it can
    private long _read;             // what it read
    private volatile bool _stopping;

    /// <summary>Payload bytes per packet: Linux's receive buffer (4 KiB) and its largest packet (64 KiB).</summary>
    [Params(4096, 65536)]
    public int PacketBytes { get; set; }

    /// <summary>
    /// Whether the transmit queue's notifications are served on the notifying thread (the device's default, QEMU's
    /// ioeventfd=off); false: each wakes the worker, as through KVM's ioeventfd.
    /// </summary>
    public bool ServeOnVcpu { get; set; } = true;

    /// <summary>Packets per round.</summary>
    public int Depth => RoundBytes / PacketBytes;

    /// <summary>
    /// Receive buffers the guest keeps posted: a ring's worth, as Linux's virtio_vsock fills its receive queue (256 of
    /// its 4 KiB buffers, 1 MiB), within 1 MiB for larger buffers. The socket pair reads into the first
    /// <see cref="Depth"/>.
    /// </summary>
    public int RxPosted => Math.Min(QueueSize, RxBytes / PacketBytes);

    private int Stride => (Header + PacketBytes + 63) & ~63;

    [GlobalSetup(Targets = [nameof(DeviceTransmit), nameof(DeviceReceive)])]
    public void SetupDevice()
    {
        SetupMemory();
        string uds = Path.Combine(_folder, "v.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(uds + "_" + HostPort));
        listener.Listen(1);
        var options = new VirtioVsockOptions { GuestCid = 3, UnixSocketPath = uds, QueueSize = QueueSize, ServeOnVcpu = ServeOnVcpu };
        _host = new VsockHost(options);
        _host.Start();
        _device = new VirtioVsockDevice(_memory, _host, options);
        _rxQueue = new Virtqueue(0, Ring(RxRing, "bench rx"), _rxNotify);
        _txQueue = new Virtqueue(1, Ring(TxRing, "bench tx"), _txNotify);
        _device.Activate(new VirtioActivation(Features, [_rxQueue, _txQueue, new Virtqueue(2, Ring(EventRing, "bench event"), _eventNotify)], _transport));

        // The guest connects (its socket's buffer: 1 GiB, given back every round) and gets its RESPONSE.
        WriteTxPacket(0, VsockOp.Request, 0);
        Publish(TxRing, ref _txAvail, 1, _txNotify);
        _peer = listener.Accept();
        _peer.ReceiveBufferSize = _peer.SendBufferSize = 4 * RoundBytes;
        WaitForUsed(TxRing, _txAvail);
        Publish(RxRing, ref _rxAvail, 1, _rxNotify);
        WaitForUsed(RxRing, _rxAvail);
        _rxUsed = _rxAvail;
        _deviceForwarded = VsockHeader.Read(_memory.GetSpan(RxData, Header)).ForwardCount;
        // As Linux, buffers wait in the ring before any data.
        _rxFree = new ushort[RxPosted];
        for (int i = 0; i < RxPosted; i++)
            _rxFree[_rxFreeCount++] = (ushort)(RxPosted - 1 - i);
        RefillReceive();
        StartReader();
    }

    [GlobalSetup(Targets = [nameof(SocketPairWrite), nameof(SocketPairRead)])]
    public void SetupSocketPair()
    {
        SetupMemory();
        string path = Path.Combine(_folder, "pair.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        _near = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _near.Connect(new UnixDomainSocketEndPoint(path));
        _peer = listener.Accept();
        _peer.ReceiveBufferSize = _peer.SendBufferSize = _near.ReceiveBufferSize = _near.SendBufferSize = 4 * RoundBytes;
        StartReader();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stopping = true;
        _device?.Reset();
        _host?.Dispose();
        _near?.Dispose();
        _peer.Dispose();
        _reader?.Join();
        _rxNotify.Dispose();
        _txNotify.Dispose();
        _eventNotify.Dispose();
        _transport.Dispose();
        _memory.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>
    /// Guest to host: a round of RW packets on the transmit queue, as a Linux guest sends them: never more in flight
    /// than the device's credit (its buf_alloc less what it has not announced as forwarded), the credit updates
    /// taken from the receive queue; the host program reads on its own thread.
    /// </summary>
    [Benchmark]
    public void DeviceTransmit()
    {
        long goal = Volatile.Read(ref _read) + RoundBytes;
        int left = RoundBytes;
        while (left > 0)
        {
            bool published = false;
            ushort batchStart = _txAvail;
            while (left > 0 && VsockConnectionCredit() >= (uint)PacketBytes && (ushort)(_txAvail - UsedIndex(TxRing)) < Depth)
            {
                WriteTxPacket(_nextTx, VsockOp.ReadWrite, (uint)PacketBytes);
                PublishOne(TxRing, ref _txAvail, _nextTx);
                _nextTx = (_nextTx + 1) % Depth;
                _sent += (uint)PacketBytes;
                left -= PacketBytes;
                published = true;
            }
            if (published && DriverRing.NeedsNotification(_memory, TxRing, QueueSize, batchStart, _txAvail))
                Notify(_txQueue, _txNotify);
            if (left > 0)
                TakeCreditUpdates();
        }
        // As the pair's side: until the host program has read the round. Not by sleeping on the interrupt: none
        // comes once the device announced its credit, and each round waited out the 1 ms timeout (256 KiB a ms).
        while (Volatile.Read(ref _read) < goal)
            Thread.SpinWait(20);
    }

    /// <summary>The same bytes, from the same guest buffers, written into a socket pair the host program reads.</summary>
    [Benchmark]
    public void SocketPairWrite()
    {
        long goal = Volatile.Read(ref _read) + RoundBytes;
        for (int i = 0; i < Depth; i++)
        {
            // A blocking socket: one writev takes the whole packet, waiting for room as the device's end would.
            var payload = new GuestBuffer(TxData.Offset((ulong)(i * Stride + Header)), (uint)PacketBytes);
            if (!_memory.TryWriteTo(_near!.SafeHandle, new ReadOnlySpan<GuestBuffer>(in payload), out int written) || written != PacketBytes)
                throw new InvalidOperationException("the socket pair did not take a whole packet");
        }
        while (Volatile.Read(ref _read) < goal)
            Thread.SpinWait(20);
    }

    /// <summary>
    /// Host to guest: the host program writes a round and the guest takes the packets, as Linux's virtio_vsock does:
    /// its receive buffers are posted before the data comes (the driver refills them as it reaps, here once all are
    /// used), it reaps every used entry an interrupt finds, asks for the next interrupt (used_event) and looks once
    /// more before it sleeps; then it tells the device its new fwd_cnt (a CREDIT_UPDATE, as Linux does once its
    /// buffer runs low) and goes on, as Linux does, without waiting for the device to take it.
    /// </summary>
    [Benchmark]
    public void DeviceReceive()
    {
        WriteToPeer();
        uint goal = _received + RoundBytes;
        while (true)
        {
            ReapReceived();
            if (_received == goal)
                break;
            DriverRing.SetUsedEvent(_memory, RxRing, QueueSize, _rxUsed);
            if (_rxUsed == UsedIndex(RxRing))
                _transport.Interrupt.Wait(timeoutMilliseconds: 1);
        }
        // The credit update rides on the next of the transmit descriptors kept for them, whose last use must be over
        // first. Linux gives every packet a buffer of its own and waits for the device only when its transmit ring is
        // full; with CreditSlots of them, the driver waits only when the device left that many unanswered.
        ushort reusable = (ushort)(_txAvail - (CreditSlots - 1));
        if ((short)(UsedIndex(TxRing) - reusable) < 0)
            WaitForUsed(TxRing, reusable);
        int slot = Depth + _nextCredit;
        _nextCredit = (_nextCredit + 1) % CreditSlots;
        WriteTxPacket(slot, VsockOp.CreditUpdate, 0);
        Publish(TxRing, ref _txAvail, 1, _txNotify, first: slot);
    }

    // Takes every used receive buffer (its packet's fwd_cnt, and its payload if RW), then refills as Linux's rx_work does.
    private void ReapReceived()
    {
        while (_rxUsed != UsedIndex(RxRing))
        {
            VringUsedElement used = _memory.Read<VringUsedElement>(Used(RxRing).Offset(4 + 8UL * (ulong)(_rxUsed % QueueSize)));
            _rxUsed++;
            if (used.Id >= (uint)RxPosted)
                throw new InvalidOperationException($"the device used receive descriptor {used.Id}, never posted");
            var header = VsockHeader.Read(_memory.GetSpan(RxData.Offset(used.Id * (ulong)Stride), Header));
            _deviceForwarded = header.ForwardCount;
            if (header.Op == (ushort)VsockOp.ReadWrite)
                _received += header.Length;
            _rxFree[_rxFreeCount++] = (ushort)used.Id;
        }
        if ((ushort)(_rxAvail - _rxUsed) < RxPosted / 2)
            RefillReceive();
    }

    // Posts every free receive buffer again, notifying if the device asked: Linux's virtio_vsock_rx_fill, which its
    // rx_work calls once fewer than half its buffers are posted. A descriptor is never in the ring twice.
    private void RefillReceive()
    {
        if (_rxFreeCount == 0)
            return;
        ushort before = _rxAvail;
        GuestAddress available = DriverRing.Available(RxRing, QueueSize);
        while (_rxFreeCount > 0)
        {
            _memory.Write(available.Offset(4 + 2UL * (ulong)(_rxAvail % QueueSize)), _rxFree[--_rxFreeCount]);
            _rxAvail++;
        }
        _memory.WriteUInt16Release(available.Offset(2), _rxAvail);
        if (DriverRing.NeedsNotification(_memory, RxRing, QueueSize, before, _rxAvail))
            Notify(_rxQueue, _rxNotify);
    }

    /// <summary>The same bytes through a socket pair: written by the host program, read from the device's end into the same guest buffers.</summary>
    [Benchmark]
    public void SocketPairRead()
    {
        WriteToPeer();
        for (int i = 0; i < Depth; i++)
        {
            var buffer = new GuestBuffer(RxData.Offset((ulong)(i * Stride + Header)), (uint)PacketBytes);
            if (!_memory.TryReadFrom(_near!.SafeHandle, new ReadOnlySpan<GuestBuffer>(in buffer), out int read) || read != PacketBytes)
                throw new InvalidOperationException("the socket pair gave less than a packet");
        }
    }

    private void SetupMemory()
    {
        _folder = Path.Combine(Path.GetTempPath(), "lguest-bench-vsock-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_folder);
        _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(64UL << 20));
        _rxNotify = new EventNotifier();
        _txNotify = new EventNotifier();
        _eventNotify = new EventNotifier();
        _transport = new InterruptTransport();
        _sink = new byte[RoundBytes];
        _memory.Clear(RxRing, 0x60000);
        // Receive descriptors 0..RxPosted-1 (header plus a packet each); transmit descriptors 0..Depth+CreditSlots-1
        // (those from Depth on for credit updates).
        for (int i = 0; i < RxPosted; i++)
        {
            _memory.Write(RxRing.Offset((ulong)i * VringDescriptor.Size),
                new VringDescriptor(RxData.Value + (ulong)(i * Stride), (uint)(Header + PacketBytes), VringDescriptor.FlagWrite, 0));
        }
        for (int i = 0; i < Depth + CreditSlots; i++)
        {
            _memory.Write(TxRing.Offset((ulong)i * VringDescriptor.Size),
                new VringDescriptor(TxData.Value + (ulong)(i * Stride), (uint)(Header + PacketBytes), 0, 0));
        }
    }

    // A transmit packet in descriptor i's buffer: header (guest 3:1025 to host 2:5000) and len bytes of payload.
    private void WriteTxPacket(int i, VsockOp op, uint length)
    {
        var header = new VsockHeader
        {
            SourceCid = 3, DestinationCid = VsockHeader.HostCid, SourcePort = GuestPort, DestinationPort = HostPort, Length = length,
            Type = VsockHeader.TypeStream, Op = (ushort)op, BufferAllocation = 1u << 30, ForwardCount = _received,
        };
        header.Write(_memory.GetSpan(TxData.Offset((ulong)(i * Stride)), Header));
        _memory.Write(TxRing.Offset((ulong)i * VringDescriptor.Size),
            new VringDescriptor(TxData.Value + (ulong)(i * Stride), (uint)(Header + length), 0, 0));
    }

    // Publishes descriptors first..first+count-1 (used_event on the last: one interrupt per round) and notifies.
    // Notifies only when the device asked (EVENT_IDX's avail_event), as Linux's virtqueue_kick_prepare.
    private void Publish(GuestAddress ring, ref ushort avail, int count, EventNotifier notify, int first = 0)
    {
        ushort before = avail;
        DriverRing.Publish(_memory, ring, QueueSize, ref avail, first, count);
        if (DriverRing.NeedsNotification(_memory, ring, QueueSize, before, avail))
            Notify(ring == TxRing ? _txQueue : ring == RxRing ? _rxQueue : null, notify);
    }

    // A notification as a transport delivers it: through the queue (its inline server, when the device serves it on
    // the notifying thread, as in a vCPU's exit), or straight to the notifier (KVM's ioeventfd).
    private static void Notify(Virtqueue? queue, EventNotifier notify)
    {
        if (queue is { ServesNotificationsInline: true })
            queue.Notify();
        else
            notify.Signal();
    }

    private void WaitForUsed(GuestAddress ring, ushort until)
    {
        GuestAddress used = Used(ring);
        DriverRing.SetUsedEvent(_memory, ring, QueueSize, (ushort)(until - 1));
        while ((short)(_memory.ReadUInt16Acquire(used.Offset(2)) - until) < 0)
            _transport.Interrupt.Wait(timeoutMilliseconds: 1);
    }

    // The guest's credit for sending: the device's buffer less what it has not said it forwarded.
    private uint VsockConnectionCredit() => (uint)RoundBytes - (_sent - _deviceForwarded);

    // Takes the device's packets, each with its fwd_cnt (a credit update), keeping receive buffers posted; sleeps
    // until the next if none came.
    private void TakeCreditUpdates()
    {
        ReapReceived();
        // Interrupt me at the next packet (used_event, EVENT_IDX), then look again before sleeping.
        DriverRing.SetUsedEvent(_memory, RxRing, QueueSize, _rxUsed);
        if (_rxUsed == UsedIndex(RxRing))
            _transport.Interrupt.Wait(timeoutMilliseconds: 1);
    }

    private ushort UsedIndex(GuestAddress ring) => DriverRing.UsedIndex(_memory, ring, QueueSize);

    private void PublishOne(GuestAddress ring, ref ushort avail, int descriptor)
    {
        GuestAddress available = DriverRing.Available(ring, QueueSize);
        _memory.Write(available.Offset(4 + 2UL * (ulong)(avail % QueueSize)), (ushort)descriptor);
        avail++;
        _memory.WriteUInt16Release(available.Offset(2), avail);
    }

    // The host program: reads whatever comes, as fast as it comes (its end of the device's socket, or the pair's).
    private void StartReader()
    {
        _reader = new Thread(() =>
        {
            byte[] buffer = new byte[RoundBytes];
            try
            {
                while (!_stopping)
                {
                    if (!_peer.Poll(100_000, SelectMode.SelectRead))
                        continue;
                    int n = _peer.Receive(buffer);
                    if (n == 0)
                        return;
                    Interlocked.Add(ref _read, n);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }) { IsBackground = true, Name = "bench host program" };
        _reader.Start();
    }

    private void WriteToPeer()
    {
        if (_peer.Send(_sink, 0, RoundBytes, SocketFlags.None) != RoundBytes)
            throw new InvalidOperationException("the host program's socket did not take a whole round");
    }

    private Vring Ring(GuestAddress ring, string name) => DriverRing.Open(_memory, ring, name, QueueSize, Features);

    private static GuestAddress Used(GuestAddress ring) => DriverRing.Used(ring, QueueSize);
}
