using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using System.Runtime.InteropServices;
using Lguest.Devices;
using Lguest.Devices.Interop;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Benchmarks;

/// <summary>
/// The block device with no guest CPU in the loop: this thread plays the guest's driver (writes request
/// chains into guest memory, publishes them, notifies the queue as a vCPU's exit would, sleeps on the interrupt's
/// eventfd until every request is used), the device serves them with preadv/pwritev: a lone request on this
/// thread, in its notification (<see cref="ServeOnVcpu"/>), the rest on the queue's worker. Beside
/// it, the same reads and writes issued by this thread with preadv/pwritev on the same file and the
/// same guest buffers: the host's own cost, with no virtqueue; and the same requests on an io_uring of the
/// host's own (all <see cref="QueueDepth"/> submitted at once, then reaped). One operation = one request,
/// <see cref="QueueDepth"/> of them published together; the image (256 MiB) is in the page cache, so this
/// measures the device's overhead, not the disk.
/// </summary>
[MemoryDiagnoser]
public unsafe class BlockBenchmarks
{
    /// <summary>The deepest queue measured: requests published (and waited for) together.</summary>
    public const int Depth = 32;

    private const long ImageBytes = 256L << 20;
    private const int QueueSize = 128;
    private const ulong Features = VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;
    private static readonly GuestAddress Descriptors = new(0x10000);
    private static readonly GuestAddress Available = new(0x20000);
    private static readonly GuestAddress Used = new(0x30000);
    private static readonly GuestAddress Headers = new(0x40000);
    private static readonly GuestAddress Statuses = new(0x50000);
    private static readonly GuestAddress Data = new(0x100000);

    private string _path = null!;
    private SafeFileHandle _file = null!;
    private GuestMemory _memory = null!;
    private EventNotifier _notify = null!;
    private Virtqueue _queue = null!;
    private InterruptTransport _transport = null!;
    private VirtioBlockDevice _device = null!;
    private GuestBuffer[] _buffers = null!;
    private ushort _availIndex;
    private long _next;
    private Random _random = new(1);
    private IoUring? _hostRing;
    private IoVec* _hostVectors;
    private EventNotifier _hostInterrupt = null!;

    /// <summary>Bytes of data per request: 4 KiB (requests per second) or 1 MiB (bytes per second).</summary>
    [Params(4096, 1 << 20)]
    public int RequestBytes { get; set; }

    /// <summary>The device's <c>MaxPollTime</c>; null for the devices' default (32 µs). Zero: the worker sleeps at once.</summary>
    public TimeSpan? MaxPollTime { get; set; }

    /// <summary>Requests published together and waited for together: 1 (each request's whole round trip) to <see cref="Depth"/>.</summary>
    [Params(1, Depth)]
    public int QueueDepth { get; set; } = Depth;

    /// <summary>Offsets drawn at random across the image (4 KiB aligned to the request size) instead of walking it.</summary>
    public bool RandomOffsets { get; set; }

    /// <summary>
    /// How long the driver thread spins on the used index before it sleeps on the interrupt (zero: it sleeps at
    /// once). A guest's vCPU that halts waiting for a completion is polled by KVM for a while before its thread
    /// sleeps (halt_poll_ns); this models that, to show what the two sleeps per request cost at queue depth 1.
    /// </summary>
    public TimeSpan DriverPollTime { get; set; }

    /// <summary>
    /// The driver wants no interrupt and polls the used index instead, as Linux's virtio-blk does on its poll queues
    /// (<c>virtio_blk.poll_queues</c>, with io_uring's IOPOLL in the guest): <c>virtqueue_disable_cb</c> leaves
    /// used_event far from the used index, so the device makes no interrupt's system call. False: used_event on the
    /// round's last request, as the default interrupt-driven queues ask.
    /// </summary>
    public bool PolledDriver { get; set; }

    /// <summary>The device's I/O engine.</summary>
    public VirtioBlockIoEngine IoEngine { get; set; } = VirtioBlockIoEngine.IoUring;

    /// <summary>The device's <c>MergeRequests</c>: adjacent requests of a batch go to io_uring as one.</summary>
    public bool MergeRequests { get; set; } = true;

    /// <summary>
    /// The device's <c>ServeOnVcpu</c>: a lone request is served on the thread that notifies (here the driver's, as a
    /// vCPU's in its notification exit) while the worker sleeps. False: every notification wakes the worker, as
    /// through KVM's ioeventfd.
    /// </summary>
    public bool ServeOnVcpu { get; set; } = true;

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), $"lguest-bench-{Guid.NewGuid():N}.img");
        var chunk = new byte[1 << 20];
        new Random(1).NextBytes(chunk);
        using (var image = new FileStream(_path, FileMode.CreateNew))
        {
            for (long done = 0; done < ImageBytes; done += chunk.Length)
                image.Write(chunk);
        }
        _file = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(64UL << 20));
        _notify = new EventNotifier();
        _hostInterrupt = new EventNotifier();
        _transport = new InterruptTransport();
        _device = new VirtioBlockDevice(_memory, _file, new VirtioBlockOptions { Path = _path, QueueSize = QueueSize,
            MaxPollTime = MaxPollTime ?? PollWindow.DefaultMax, IoEngine = IoEngine, MergeRequests = MergeRequests, ServeOnVcpu = ServeOnVcpu });
        _hostRing = IoUring.TryCreate(Depth, out _);
        _hostVectors = (IoVec*)NativeMemory.AllocZeroed(Depth, (nuint)sizeof(IoVec));
        _buffers = new GuestBuffer[Depth];
        for (int i = 0; i < Depth; i++)
            _buffers[i] = new GuestBuffer(Data.Offset((ulong)i * (ulong)RequestBytes), (uint)RequestBytes);
        _memory.Clear(Descriptors, 0x30000 + 8 * QueueSize + 8);
        _queue = new Virtqueue(0, new Vring(_memory, "bench vq", QueueSize, new VringAddresses(Descriptors, Available, Used), Features), _notify);
        _device.Activate(new VirtioActivation(Features, [_queue], _transport));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _device.Reset();
        _hostRing?.Dispose();
        NativeMemory.Free(_hostVectors);
        _notify.Dispose();
        _hostInterrupt.Dispose();
        _transport.Dispose();
        _memory.Dispose();
        _file.Dispose();
        File.Delete(_path);
    }

    /// <summary>Whether the host has an io_uring for <see cref="HostIoUringRead"/> and <see cref="HostIoUringWrite"/>.</summary>
    public bool HasHostIoUring => _hostRing is not null;

    // OperationsPerInvoke is fixed by BenchmarkDotNet at compile time: it counts Depth requests per invocation,
    // so QueueDepth 1 runs Depth rounds of one request.
    [Benchmark(OperationsPerInvoke = Depth)]
    public void DeviceRead() => Rounds(() => Submit(VirtioBlockRequestType.In));

    [Benchmark(OperationsPerInvoke = Depth)]
    public void HostPreadv()
    {
        for (int i = 0; i < Depth; i++)
            _memory.ReadFromFile(_file, NextOffset(), _buffers.AsSpan(i % QueueDepth, 1));
    }

    /// <summary>
    /// The host's preadv plus the one system call any device's completion costs at least: a used-buffer interrupt (an
    /// eventfd write, as KVM's irqfd takes it) per round, as the device makes one when the round's last request is used.
    /// A virtio driver waiting for its request cannot do without it (Linux's virtio-blk completes requests in the
    /// interrupt's handler), so this is the fastest a device could serve a lone request, whatever its own code costs.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Depth)]
    public void HostPreadvInterrupt() => HostCallsWithInterrupt(write: false);

    /// <summary>The host's pwritev plus the used-buffer interrupt per round (<see cref="HostPreadvInterrupt"/>).</summary>
    [Benchmark(OperationsPerInvoke = Depth)]
    public void HostPwritevInterrupt() => HostCallsWithInterrupt(write: true);

    private void HostCallsWithInterrupt(bool write)
    {
        for (int i = 0; i < Depth; i++)
        {
            Span<GuestBuffer> buffer = _buffers.AsSpan(i % QueueDepth, 1);
            if (write)
                _memory.WriteToFile(_file, NextOffset(), buffer);
            else
                _memory.ReadFromFile(_file, NextOffset(), buffer);
            if ((i + 1) % QueueDepth == 0)
                _hostInterrupt.Signal();
        }
    }

    [Benchmark(OperationsPerInvoke = Depth)]
    public void DeviceWrite() => Rounds(() => Submit(VirtioBlockRequestType.Out));

    [Benchmark(OperationsPerInvoke = Depth)]
    public void HostPwritev()
    {
        for (int i = 0; i < Depth; i++)
            _memory.WriteToFile(_file, NextOffset(), _buffers.AsSpan(i % QueueDepth, 1));
    }

    [Benchmark(OperationsPerInvoke = Depth)]
    public void HostIoUringRead() => Rounds(() => HostRing(IoUringLibc.OpReadv));

    [Benchmark(OperationsPerInvoke = Depth)]
    public void HostIoUringWrite() => Rounds(() => HostRing(IoUringLibc.OpWritev));

    private void Rounds(Action round)
    {
        for (int done = 0; done < Depth; done += QueueDepth)
            round();
    }

    // The host's own io_uring: QueueDepth requests submitted in one io_uring_enter that also waits for them.
    private void HostRing(byte opcode)
    {
        IoUring ring = _hostRing ?? throw new InvalidOperationException("no io_uring on this host");
        int fd = (int)_file.DangerousGetHandle();
        for (int i = 0; i < QueueDepth; i++)
        {
            _hostVectors[i].Base = _memory.GetHostAddress(_buffers[i]);
            _hostVectors[i].Length = _buffers[i].Length;
            ref IoUringSqe sqe = ref ring.Next();
            sqe.Opcode = opcode;
            sqe.Fd = fd;
            sqe.Off = (ulong)NextOffset();
            sqe.Addr = (ulong)(_hostVectors + i);
            sqe.Len = 1;
            sqe.UserData = (ulong)i;
        }
        int taken = 0;
        uint wait = (uint)QueueDepth;
        while (taken < QueueDepth)
        {
            if (ring.Submit(wait) != 0)
                throw new IOException("io_uring_enter failed");
            while (ring.TryTake(out IoUringCqe completion))
            {
                if (completion.Res != RequestBytes)
                    throw new IOException($"io_uring request {completion.UserData}: {completion.Res}");
                taken++;
            }
            wait = 1;
        }
    }

    // Request i of a round: header, data and status descriptors at 3i..3i+2, the data where the host
    // baseline puts it too, at the offsets the host's sides draw (NextOffset).
    private void Submit(uint type)
    {
        for (int i = 0; i < QueueDepth; i++)
        {
            GuestAddress header = Headers.Offset((ulong)i * 16);
            Span<byte> h = _memory.GetSpan(header, 16);
            BinaryPrimitives.WriteUInt32LittleEndian(h, type);
            BinaryPrimitives.WriteUInt64LittleEndian(h[8..], (ulong)NextOffset() / 512);
            ushort d = (ushort)(3 * i);
            ushort dataFlags = (ushort)(VringDescriptor.FlagNext | (type == VirtioBlockRequestType.In ? VringDescriptor.FlagWrite : 0));
            WriteDescriptor(d, new VringDescriptor(header.Value, 16, VringDescriptor.FlagNext, (ushort)(d + 1)));
            WriteDescriptor(d + 1, new VringDescriptor(_buffers[i].Address.Value, _buffers[i].Length, dataFlags, (ushort)(d + 2)));
            WriteDescriptor(d + 2, new VringDescriptor(Statuses.Value + (ulong)i, 1, VringDescriptor.FlagWrite, 0));
            _memory.Write(Available.Offset(4 + 2UL * (ulong)(_availIndex % QueueSize)), d);
            _availIndex++;
        }
        // used_event: one interrupt when the last request of the round is used, as a driver that
        // reaps completions in bulk would ask.
        _memory.Write(Available.Offset(4 + 2UL * QueueSize), PolledDriver ? (ushort)(_availIndex + 0x8000) : (ushort)(_availIndex - 1));
        _memory.WriteUInt16Release(Available.Offset(2), _availIndex);
        // Linux's virtqueue_kick_prepare: notify only when the device asked to be told (avail_event in
        // (old, new]); a device still polling its ring has not, and needs no eventfd write.
        Interlocked.MemoryBarrier();
        ushort availEvent = _memory.Read<ushort>(Used.Offset(4 + 8UL * QueueSize));
        ushort old = (ushort)(_availIndex - QueueDepth);
        // The notification as the transport delivers it from a vCPU's exit: served right here when the device
        // serves the queue inline and its worker sleeps, else the worker's eventfd (what KVM's ioeventfd would write).
        if ((ushort)(_availIndex - availEvent - 1) < (ushort)(_availIndex - old))
            _queue.Notify();
        WaitForUsed();
        if (_memory.Read<byte>(Statuses) != VirtioBlockStatus.Ok)
            throw new InvalidOperationException("request failed");
    }

    // Spins for DriverPollTime, then sleeps on the interrupt, until every request of the round is used.
    private void WaitForUsed()
    {
        if (DriverPollTime > TimeSpan.Zero)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            while (_memory.ReadUInt16Acquire(Used.Offset(2)) != _availIndex)
            {
                if (System.Diagnostics.Stopwatch.GetElapsedTime(start) > DriverPollTime)
                    break;
                Thread.SpinWait(1);
            }
        }
        while (_memory.ReadUInt16Acquire(Used.Offset(2)) != _availIndex)
        {
            if (PolledDriver)
                Thread.SpinWait(1); // no interrupt comes: the driver polls, as a poll queue does
            else
                _transport.Interrupt.Wait();
        }
    }

    private void WriteDescriptor(int index, VringDescriptor descriptor) =>
        _memory.Write(Descriptors.Offset((ulong)index * VringDescriptor.Size), descriptor);

    // The next request's offset, drawn the same way by every side, one per request. Sequential: each request after
    // the last, walking the whole image, whatever the depth. (Each round used to start 32 requests after the last
    // round's start: at queue depth 1 the device and the host's io_uring, a round per request, read and wrote only 8
    // MiB of the 256 over and over, which stays in this host's 32 MiB L3 cache, while the host's call walked all of
    // it from RAM: the 1 MiB QD 1 ratios of 1.95 / 1.93 before issue 20's sixth pass.) Random: anywhere in the
    // image, aligned to the request size (the generator costs nanoseconds, the same on every side).
    private long NextOffset()
    {
        if (RandomOffsets)
            return _random.NextInt64(ImageBytes / RequestBytes) * RequestBytes;
        long offset = _next;
        _next = (_next + RequestBytes) % ImageBytes;
        return offset;
    }
}
