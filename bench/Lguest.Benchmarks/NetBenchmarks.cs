using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Lguest.Devices;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Benchmarks;

/// <summary>
/// The network card with no guest CPU in the loop, on a real tap inside a network namespace the
/// benchmark creates (and deletes): this thread plays the guest's driver (writes chains, publishes,
/// notifies the queue's eventfd, sleeps on the interrupt's eventfd until all are used), the device's
/// workers move the frames. Beside each, the tap's own rate with the same frames and the same guest
/// buffers: writev straight to the tap, or readv straight from it, no virtqueue. One operation = one
/// frame, <see cref="Depth"/> per round.
/// </summary>
/// <remarks>
/// Transmitted frames are addressed to a MAC that is not the tap's, so the host drops them as soon as
/// it sees them (the cost of the host's stack stays out). Received frames are UDP datagrams this
/// thread sends to the guest's address; sending them is in both the device's and the tap's figure.
/// Needs root; run with <c>dotnet run -c Release -- --filter *NetBenchmarks*</c>.
/// </remarks>
[MemoryDiagnoser]
public partial class NetBenchmarks
{
    /// <summary>Frames per round: a busy guest's batch.</summary>
    public const int Depth = 64;

    private const int QueueSize = 256;
    private const int BufferBytes = 4096;
    private const ulong Features = VirtioFeatures.Version1 | VirtioFeatures.RingEventIndex | VirtioFeatures.RingIndirectDescriptors
        | VirtioNetFeatures.MergeableRxBuffers;
    private static readonly GuestAddress RxRing = new(0x10000);
    private static readonly GuestAddress TxRing = new(0x20000);
    private static readonly GuestAddress RxData = new(0x100000);
    private static readonly GuestAddress TxData = new(0x200000);
    private static readonly IPAddress HostIp = IPAddress.Parse("10.98.0.1");
    private static readonly IPAddress GuestIp = IPAddress.Parse("10.98.0.2");
    private static readonly MacAddress GuestMac = MacAddress.Parse("52:54:00:98:00:02");

    private string _namespace = null!;
    private TapDevice _tap = null!;
    private int _mtu;
    private Socket _socket = null!;
    private SocketAddress _guest = null!;
    private byte[] _payload = null!;
    private GuestMemory _memory = null!;
    private EventNotifier _rxNotify = null!;
    private EventNotifier _txNotify = null!;
    private InterruptTransport _transport = null!;
    private VirtioNetDevice? _device;
    private Virtqueue? _rxQueue, _txQueue;
    private ushort _rxAvail, _txAvail;

    /// <summary>Ethernet frame size: the smallest (frames per second) and an MTU-sized one.</summary>
    [Params(64, 1514)]
    public int FrameBytes { get; set; }

    /// <summary>The device's <c>MaxPollTime</c>; null for the devices' default (32 µs). Zero: the worker sleeps at once.</summary>
    public TimeSpan? MaxPollTime { get; set; }

    /// <summary>
    /// The device's <c>TransmitOnVcpu</c>: a transmit notification is served on the thread that notifies (here the
    /// driver's, as a vCPU's exit) while the worker sleeps. False: each wakes the worker, as through KVM's ioeventfd.
    /// </summary>
    public bool TransmitOnVcpu { get; set; } = true;

    [GlobalSetup(Targets = [nameof(DeviceTransmit), nameof(DeviceReceive)])]
    public void SetupDevice()
    {
        SetupTap();
        _device = new VirtioNetDevice(_memory, _tap, GuestMac, _mtu, new VirtioNetOptions { QueueSize = QueueSize,
            MaxPollTime = MaxPollTime ?? PollWindow.DefaultMax, TransmitOnVcpu = TransmitOnVcpu });
        _rxQueue = new Virtqueue(0, Ring(RxRing, "bench rx"), _rxNotify);
        _txQueue = new Virtqueue(1, Ring(TxRing, "bench tx"), _txNotify);
        _device.Activate(new VirtioActivation(Features, [_rxQueue, _txQueue], _transport));
    }

    [GlobalSetup(Targets = [nameof(TapWrite), nameof(TapRead)])]
    public void SetupTap()
    {
        _namespace = "lguest-bench-" + Guid.NewGuid().ToString("N")[..8];
        Run("ip", "netns", "add", _namespace);
        Run("ip", "netns", "exec", _namespace, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        (_tap, _mtu, _socket) = InNamespace(() =>
        {
            (TapDevice tap, int mtu) = VirtioNetFactory.Open(new VirtioNetOptions { Tunnet = TunnetSpec.ForAddress(HostIp, 24) });
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(HostIp, 9000));
            return (tap, mtu, socket);
        });
        Run("ip", "-n", _namespace, "neigh", "replace", GuestIp.ToString(), "lladdr", GuestMac.ToString(), "dev", _tap.Name, "nud", "permanent");
        _guest = new IPEndPoint(GuestIp, 9001).Serialize(); // sending to a SocketAddress allocates nothing
        _payload = new byte[FrameBytes - 42];
        _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(16UL << 20));
        _rxNotify = new EventNotifier();
        _txNotify = new EventNotifier();
        _transport = new InterruptTransport();
        _memory.Clear(RxRing, 0x20000);

        // Transmit chains 0..Depth-1: a zero header and a frame to a MAC that is not the tap's.
        var frame = new byte[VirtioNetHeader.Size + FrameBytes];
        MacAddress.Parse("02:00:00:00:00:99").CopyTo(frame.AsSpan(VirtioNetHeader.Size));
        GuestMac.CopyTo(frame.AsSpan(VirtioNetHeader.Size + 6));
        frame[VirtioNetHeader.Size + 12] = 0x08;
        for (int i = 0; i < Depth; i++)
        {
            _memory.Write(TxData.Offset((ulong)i * BufferBytes), frame);
            _memory.Write(TxRing.Offset((ulong)i * VringDescriptor.Size),
                new VringDescriptor(TxData.Value + (ulong)i * BufferBytes, (uint)frame.Length, 0, 0));
            _memory.Write(RxRing.Offset((ulong)i * VringDescriptor.Size),
                new VringDescriptor(RxData.Value + (ulong)i * BufferBytes, BufferBytes, VringDescriptor.FlagWrite, 0));
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _device?.Reset();
        _socket.Dispose();
        _tap.Dispose();
        _rxNotify.Dispose();
        _txNotify.Dispose();
        _transport.Dispose();
        _memory.Dispose();
        Run("ip", "netns", "del", _namespace);
    }

    [Benchmark(OperationsPerInvoke = Depth)]
    public void DeviceTransmit() => Round(TxRing, ref _txAvail, _txQueue!, sendDatagrams: false);

    [Benchmark(OperationsPerInvoke = Depth)]
    public void TapWrite()
    {
        for (int i = 0; i < Depth; i++)
        {
            var frame = new GuestBuffer(TxData.Offset((ulong)i * BufferBytes), (uint)(VirtioNetHeader.Size + FrameBytes));
            if (!_memory.TryWriteTo(_tap.Handle, new ReadOnlySpan<GuestBuffer>(in frame), out _))
                throw new InvalidOperationException("the tap's send buffer is full");
        }
    }

    [Benchmark(OperationsPerInvoke = Depth)]
    public void DeviceReceive() => Round(RxRing, ref _rxAvail, _rxQueue!, sendDatagrams: true);

    [Benchmark(OperationsPerInvoke = Depth)]
    public void TapRead()
    {
        SendDatagrams();
        for (int i = 0; i < Depth; i++)
        {
            var buffer = new GuestBuffer(RxData.Offset((ulong)i * BufferBytes), BufferBytes);
            if (!_memory.TryReadFrom(_tap.Handle, new ReadOnlySpan<GuestBuffer>(in buffer), out _))
                throw new InvalidOperationException("a datagram sent did not reach the tap");
        }
    }

    // Publishes descriptors 0..Depth-1 in the ring's available slots (used_event on the last, so one
    // interrupt per round as a driver reaping in bulk asks), notifies when the device asked to be told (Linux's
    // virtqueue_kick_prepare with EVENT_IDX: avail_event in (old, new]; a worker still polling has not), as the
    // transport delivers it from a vCPU's exit (Virtqueue.Notify: served right here when the queue is served inline and
    // its worker sleeps, else the worker's eventfd, what KVM's ioeventfd writes), then waits for all of them.
    private void Round(GuestAddress ring, ref ushort avail, Virtqueue queue, bool sendDatagrams)
    {
        ushort old = avail;
        DriverRing.Publish(_memory, ring, QueueSize, ref avail, 0, Depth);
        Interlocked.MemoryBarrier();
        ushort availEvent = _memory.Read<ushort>(DriverRing.Used(ring, QueueSize).Offset(4 + 8UL * QueueSize));
        if ((ushort)(avail - availEvent - 1) < (ushort)(avail - old))
            queue.Notify();
        if (sendDatagrams)
            SendDatagrams();
        while (DriverRing.UsedIndex(_memory, ring, QueueSize) != avail)
            _transport.Interrupt.Wait();
    }

    private void SendDatagrams()
    {
        for (int i = 0; i < Depth; i++)
            _socket.SendTo(_payload, SocketFlags.None, _guest);
    }

    private Vring Ring(GuestAddress ring, string name) => DriverRing.Open(_memory, ring, name, QueueSize, Features);

    private T InNamespace<T>(Func<T> body)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using SafeFileHandle ns = File.OpenHandle($"/var/run/netns/{_namespace}");
                if (SetNs(ns, 0x40000000 /* CLONE_NEWNET */) != 0)
                    throw new InvalidOperationException($"setns failed: errno {Marshal.GetLastPInvokeError()}");
                result = body();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return failure is null ? result : throw new InvalidOperationException("namespace set-up failed", failure);
    }

    private static void Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true };
        foreach (string a in args)
            info.ArgumentList.Add(a);
        using Process process = Process.Start(info)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)}: {error}");
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(SafeFileHandle fd, int nstype);
}
