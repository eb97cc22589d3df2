using System.Runtime.InteropServices;
using Lguest.Devices.Interop;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// The transmit queue (transmitq1, virtio 1.2 §5.1.6.2): each chain is one frame behind its header.
/// The header is copied out of guest memory once, checked against the negotiated features and
/// sanitised, and written to the tap from that copy, followed by the frame's buffers straight from
/// guest memory, in one writev. The worker (<see cref="Run"/>) hands a whole batch of such writes to the
/// kernel in one io_uring_enter (NetTransmitter.Batched.cs), where the host has io_uring, and so does a vCPU
/// serving a notification, with its thread's own ring (NetTransmitter.Inline.cs); otherwise, and when called
/// directly (<see cref="ServeAvailable"/>), one writev per frame. Malformed chains are
/// dropped, counted and returned with used length 0; the device keeps running.
/// </summary>
internal sealed partial class NetTransmitter
{
    // A batch this long publishes and considers an interrupt even if the ring has not run dry, so a
    // guest that keeps the ring full still gets its buffers back.
    private const int Batch = 64;

    private readonly GuestMemory _memory;
    private readonly Virtqueue _queue;
    private readonly Vring _ring;
    private readonly IVirtioTransport _transport;
    private readonly TapDevice _tap;
    private readonly ulong _features;
    private readonly VirtioNetCounters _counters;
    private readonly ILogger _logger;
    private readonly string _device;

    private readonly DescriptorChain _chain = new();
    private readonly GuestBuffer[] _frame = new GuestBuffer[NetLibc.IovMax - 1]; // one iovec goes to the header
    private readonly byte[] _header = new byte[VirtioNetHeader.Size];

    private readonly EventNotifier _stop;
    private readonly PollWindow _pollWindow;
    private readonly PollSet _poll = new();
    private readonly int _stopSlot;

    public NetTransmitter(GuestMemory memory, Virtqueue queue, IVirtioTransport transport, TapDevice tap, ulong features,
        VirtioNetCounters counters, EventNotifier stop, string device, ILogger logger,
        PollWindow? poll = null)
    {
        _stop = stop;
        _pollWindow = poll ?? new PollWindow(TimeSpan.Zero);
        _poll.Add(tap.Handle, NetLibc.PollOut);
        _stopSlot = _poll.Add(stop.Descriptor, NetLibc.PollIn);
        _memory = memory;
        _queue = queue;
        _ring = queue.Ring;
        _transport = transport;
        _tap = tap;
        _features = features;
        _counters = counters;
        _device = device;
        _logger = logger;
    }

    /// <summary>Sends frames until the worker's stop signal.</summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring.</exception>
    public void Run()
    {
        EnterOwner();
        try
        {
            OpenRing();
            OpenInline();
            Serve();
            // Frames a vCPU left (the tap was full) and the worker did not get to are sent, or returned, before the
            // ring goes: a paused ring holds no chain nobody will return.
            if (HasPending)
            {
                SendPending();
                Flush();
            }
        }
        finally
        {
            CloseRing();
            ExitOwner();
            // The rings of vCPU threads that have ended (a machine's end joins them before its devices stop).
            VcpuTapRing.CloseEnded();
        }
    }

    private void Serve()
    {
        while (true)
        {
            int served = ServeAvailable(out bool stopped);
            if (stopped)
                return;
            // A full batch means there may be more: look again before sleeping. Otherwise poll the
            // ring for the window, then sleep (letting the queue go to the vCPUs while asleep).
            if (served < Batch)
            {
                PollWindow? poll = PollBeforeSleep;
                _streaming &= served > 0; // a stream lasts while the worker finds frames of its own
                if (!_ring.WaitForAvailable(_queue.Notifier, _stop, poll, _owner))
                    return;
            }
        }
    }

    /// <summary>
    /// Sends (or drops) up to a batch of available chains and publishes them with one interrupt
    /// decision; returns how many. Allocates nothing. <paramref name="stopped"/> says the worker was
    /// stopped while waiting for the tap to take a frame.
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring.</exception>
    public int ServeAvailable(out bool stopped)
    {
        stopped = false;
        int served = 0;
        // The frames a vCPU left first (it found the tap full): they were popped before anything still available.
        if (!SendPending())
        {
            stopped = true;
            Flush();
            return served;
        }
        while (served < Batch && _ring.TryPop(_chain))
        {
            // With io_uring the frame joins the batch (sent at the batch's end); else it is written now.
            if (!(_uring is not null ? Queue() : Send()))
            {
                stopped = true;
                break;
            }
            served++;
        }
        if (!stopped && !SendQueued())
            stopped = true;
        Flush();
        return served;
    }

    private void Flush()
    {
        _ring.PublishUsed();
        if (_ring.NeedsInterrupt())
            _transport.SignalUsedBuffers(_queue.Index);
    }

    /// <summary>Sends the popped chain, or drops it, and adds it to the used ring; false when stopped while the tap was full.</summary>
    private bool Send()
    {
        if (!Prepare(out int count))
        {
            _ring.AddUsed(_chain.Head, 0);
            return true; // dropped
        }
        if (!Write(_header, _frame.AsSpan(0, count)))
        {
            // Stopped (a pause or a reset) while the tap was full: the frame is lost, as on a full tap, and its
            // buffers go back, so a paused ring holds no chain that nobody will return.
            _ring.AddUsed(_chain.Head, 0);
            return false;
        }
        _ring.AddUsed(_chain.Head, 0);
        return true;
    }

    /// <summary>
    /// Checks the popped chain and fills <see cref="_header"/> (the sanitised copy) and the frame's first
    /// <paramref name="count"/> buffers in <see cref="_frame"/>; false when it was dropped (counted, logged).
    /// </summary>
    private bool Prepare(out int count)
    {
        count = 0;
        DescriptorChain chain = _chain;
        ulong length = chain.ReadableLength;
        if (chain.Writable.Length != 0)
            return Drop(VirtioNetDrop.TransmitWritableBuffer, $"{chain.Writable.Length} device-writable buffer(s) in a transmit chain");
        if (length < VirtioNetHeader.Size + VirtioNetNegotiation.MinFrame)
            return Drop(VirtioNetDrop.TransmitTooShort, $"a {length}-byte transmit chain is shorter than the header and an Ethernet header");
        if (length > VirtioNetNegotiation.MaxTransmitLength)
            return Drop(VirtioNetDrop.TransmitTooLong, $"a {length}-byte transmit chain is longer than the largest frame and its header");

        // Read the header once, into memory the guest cannot reach, and send that copy.
        chain.CopyFromReadable(_memory, 0, _header);
        VirtioNetHeader header = MemoryMarshal.Read<VirtioNetHeader>(_header);
        if (VirtioNetNegotiation.TransmitHeaderError(header, _features) is string error)
            return Drop(VirtioNetDrop.TransmitOffloadRefused, error);
        // §5.1.6.2.2: flags the device does not know on transmit are ignored, so they do not reach the host.
        header.Flags &= VirtioNetHeader.FlagNeedsChecksum;
        header.NumBuffers = 0;
        MemoryMarshal.Write(_header, in header);

        int frameLength = (int)(length - VirtioNetHeader.Size);
        if (chain.Readable.Length > _frame.Length + 1)
            return Drop(VirtioNetDrop.TransmitTooManyBuffers, $"{chain.Readable.Length} buffers in a transmit chain");
        try
        {
            count = DescriptorChain.Slice(chain.Readable, VirtioNetHeader.Size, (ulong)frameLength, _frame);
        }
        catch (ArgumentException)
        {
            return Drop(VirtioNetDrop.TransmitTooManyBuffers, $"{chain.Readable.Length} buffers in a transmit chain");
        }
        return true;
    }

    /// <summary>One blocking writev of a checked frame: waits while the tap is full; false when stopped meanwhile.</summary>
    private bool Write(ReadOnlySpan<byte> headerCopy, ReadOnlySpan<GuestBuffer> frame)
    {
        // The tap's send buffer is full: wait until it drains, or until stopped.
        while (WriteOnce(headerCopy, frame) == TapWrite.Full)
        {
            _poll.Wait();
            if ((_poll.Returned(_stopSlot) & NetLibc.PollIn) != 0)
                return false;
        }
        return true;
    }

    /// <summary>
    /// One writev of a checked frame that never waits: the worker's blocking write and the vCPU's (which leaves a frame
    /// the tap cannot take to the worker) both go through it. Counts what it wrote and what the host refused.
    /// </summary>
    private TapWrite WriteOnce(ReadOnlySpan<byte> headerCopy, ReadOnlySpan<GuestBuffer> frame)
    {
        try
        {
            if (!_memory.TryWriteTo(_tap.Handle, headerCopy, frame, out _))
                return TapWrite.Full;
        }
        catch (IOException e)
        {
            // The host kernel checks the header and frame again (virtio_net_hdr_to_skb) and may refuse
            // what we let through (a segment size it does not like): the frame is lost, not the device.
            Drop(VirtioNetDrop.TransmitHostRefused, e.Message);
            return TapWrite.Refused;
        }
        int frameLength = 0;
        foreach (GuestBuffer b in frame)
            frameLength += (int)b.Length;
        _counters.Transmitted(frameLength);
        return TapWrite.Written;
    }

    // What one writev to the tap did.
    private enum TapWrite
    {
        Written,
        Full,    // EAGAIN: the tap's send buffer is full, nothing written
        Refused, // the host kernel refused the frame: dropped and counted
    }

    // Always false: Prepare's answer for a dropped chain.
    private bool Drop(VirtioNetDrop reason, string detail)
    {
        _logger.Dropped(_counters.Dropped(reason) ? LogLevel.Warning : LogLevel.Trace, _device, reason, detail);
        return false;
    }
}
