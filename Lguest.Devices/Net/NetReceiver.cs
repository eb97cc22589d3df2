using System.Buffers.Binary;
using Lguest.Devices.Interop;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// The receive queue (receiveq1, virtio 1.2 §5.1.6.3-4): frames go from the tap straight into the
/// guest's buffers with one readv, header included. With VIRTIO_NET_F_MRG_RXBUF the worker holds
/// enough popped chains for the largest frame the guest can be sent, reads over all of them, and
/// returns those the frame filled, writing their count in num_buffers; chains the frame did not reach
/// stay held for the next one. Without it, each frame takes one chain.
/// </summary>
/// <remarks>
/// Without buffers the worker stops reading the tap and sleeps on the queue's notification: frames
/// queue in the tap, where the host kernel drops (and counts) what its queue cannot hold. Everything
/// it needs is allocated when the queue is activated: a frame costs no allocation.
/// The held chains outlive a <see cref="Run"/>: a pause stops the worker and a resume runs the same
/// receiver again, so the buffers it took from the ring are still its own (a fresh receiver would never
/// return them, and the guest, which does not post a buffer twice, would run out of them).
/// </remarks>
internal sealed class NetReceiver
{
    // Enough chains for a 64 KiB frame in the smallest buffers that still hold a header, and never
    // more than one readv takes (each chain has at least one buffer).
    private const int MaxHeldChains = NetLibc.IovMax;

    // Frames delivered between two interrupt decisions when the tap keeps having more.
    private const int Batch = 64;

    private readonly GuestMemory _memory;
    private readonly Virtqueue _queue;
    private readonly Vring _ring;
    private readonly IVirtioTransport _transport;
    private readonly TapDevice _tap;
    private readonly VirtioNetCounters _counters;
    private readonly ILogger _logger;
    private readonly string _device;
    private readonly bool _mergeable;
    private readonly bool _guestChecksum;
    private readonly int _frameLimit;

    private readonly DescriptorChain[] _held;  // a ring of popped chains, oldest first
    private readonly GuestBuffer[] _iov = new GuestBuffer[NetLibc.IovMax - 1]; // one iovec goes to _overflow
    private readonly byte[] _overflow = new byte[1]; // a frame reaching it did not fit the guest's buffers
    private int _first;                        // index in _held of the oldest held chain
    private int _heldCount;
    private int _heldDescriptors;              // buffers of the held chains: the descriptors they hold, for direct chains
    private int _iovChains;                    // the oldest held chains whose buffers are in _iov
    private ulong _heldCapacity;               // their writable bytes: the most one readv can take now
    private int _iovCount;
    private int _unsignalled;                  // frames published since the last interrupt decision

    public NetReceiver(GuestMemory memory, Virtqueue queue, IVirtioTransport transport, TapDevice tap, ulong features,
        int frameLimit, VirtioNetCounters counters, string device, ILogger logger)
    {
        _memory = memory;
        _queue = queue;
        _ring = queue.Ring;
        _transport = transport;
        _tap = tap;
        _counters = counters;
        _device = device;
        _logger = logger;
        _mergeable = (features & VirtioNetFeatures.MergeableRxBuffers) != 0;
        _guestChecksum = (features & VirtioNetFeatures.GuestChecksum) != 0;
        _frameLimit = frameLimit;
        _held = new DescriptorChain[_mergeable ? Math.Min(_ring.Size, MaxHeldChains) : 1];
        for (int i = 0; i < _held.Length; i++)
            _held[i] = new DescriptorChain();
    }

    /// <summary>What stopped <see cref="ReceiveAvailable"/>.</summary>
    public enum Outcome
    {
        /// <summary>The held buffers cannot take the largest frame and the ring has no more.</summary>
        NeedBuffers,

        /// <summary>The tap has no frame waiting.</summary>
        TapEmpty,
    }

    /// <summary>
    /// Moves frames until <paramref name="stop"/> (the worker's stop signal) is signalled. The chains held then stay
    /// held, for the next run after a pause.
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring.</exception>
    /// <exception cref="IOException">Reading the tap failed for a reason other than having nothing to read.</exception>
    public void Run(EventNotifier stop)
    {
        ArgumentNullException.ThrowIfNull(stop);
        var poll = new PollSet();
        poll.Add(_tap.Handle, NetLibc.PollIn);
        int stopSlot = poll.Add(stop.Descriptor, NetLibc.PollIn);
        _ring.DisableNotifications();
        while (true)
        {
            if (ReceiveAvailable(out _) == Outcome.NeedBuffers)
            {
                // Out of buffers: sleep until the guest posts more; frames wait in the tap meanwhile.
                _counters.WaitedForBuffers();
                if (!_ring.WaitForAvailable(_queue.Notifier, stop))
                    return;
                continue;
            }
            poll.Wait();
            if ((poll.Returned(stopSlot) & NetLibc.PollIn) != 0)
                return;
        }
    }

    /// <summary>
    /// Moves every frame the tap has into the guest's buffers until the tap is empty or the buffers
    /// run out, publishing each at once and deciding on an interrupt at the end (and every
    /// <see cref="Batch"/> frames). Allocates nothing.
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring.</exception>
    /// <exception cref="IOException">Reading the tap failed for a reason other than having nothing to read.</exception>
    public Outcome ReceiveAvailable(out int frames)
    {
        frames = 0;
        while (true)
        {
            if (!HaveBuffers())
            {
                Flush();
                return Outcome.NeedBuffers;
            }
            if (!_memory.TryReadFrom(_tap.Handle, _iov.AsSpan(0, _iovCount), _overflow, out int length))
            {
                // The tap is empty: the guest gets its interrupt now rather than after the next frame.
                Flush();
                return Outcome.TapEmpty;
            }
            if (Deliver(length))
                frames++;
        }
    }

    /// <summary>Publishes what was delivered and interrupts the guest if it wants to know.</summary>
    private void Flush()
    {
        _unsignalled = 0;
        _ring.PublishUsed();
        if (_ring.NeedsInterrupt())
            _transport.SignalUsedBuffers(_queue.Index);
    }

    /// <summary>
    /// Pops chains until the held ones can take the largest frame (mergeable) or one chain is held;
    /// false when the ring ran dry first. Unusable chains are returned at once, counted.
    /// </summary>
    private bool HaveBuffers()
    {
        while (_heldCount < _held.Length && _iovChains == _heldCount && _iovCount < _iov.Length
            && (_heldCount == 0 || (_mergeable && _heldCapacity < (ulong)_frameLimit)))
        {
            DescriptorChain chain = _held[(_first + _heldCount) % _held.Length];
            if (!_ring.TryPop(chain))
                break;
            if (!Usable(chain))
                continue;
            _heldCount++;
            _heldDescriptors += chain.Count;
            TryAppend(chain); // every older held chain is in the list, so this one goes next if it fits
        }
        if (_heldCount == 0)
            return false;
        // Mergeable: a frame must not be cut for want of buffers the guest is about to post, so wait
        // for room for the largest one, unless no more can be held: every chain or every descriptor
        // of the ring is already here, or one readv takes no more buffers.
        return !_mergeable || _heldCapacity >= (ulong)_frameLimit || _heldCount == _held.Length
            || _heldDescriptors >= _ring.Size || _iovChains < _heldCount || _iovCount == _iov.Length;
    }

    /// <summary>
    /// Adds the next held chain's buffers to the readv list if they fit; false leaves it (and those
    /// after it) for a later frame, when the chains before it are gone.
    /// </summary>
    private bool TryAppend(DescriptorChain chain)
    {
        ReadOnlySpan<GuestBuffer> buffers = chain.Writable;
        if (_iovCount + buffers.Length > _iov.Length)
            return false;
        buffers.CopyTo(_iov.AsSpan(_iovCount));
        _iovCount += buffers.Length;
        _heldCapacity += chain.WritableLength;
        _iovChains++;
        return true;
    }

    // §5.1.6.3.1: receive buffers are device-writable only, and (with MRG_RXBUF, each of them) hold at
    // least the header. A chain breaking that is given back empty, so the guest gets its memory back.
    private bool Usable(DescriptorChain chain)
    {
        string? problem = chain.Readable.Length != 0 ? "a receive chain has device-readable buffers"
            : chain.WritableLength < VirtioNetHeader.Size ? $"a receive chain of {chain.WritableLength} bytes cannot hold the {VirtioNetHeader.Size}-byte header"
            : chain.Writable.Length > _iov.Length ? $"a receive chain of {chain.Writable.Length} buffers is more than one readv takes"
            : null;
        if (problem is null)
            return true;
        _ring.AddUsed(chain.Head, 0);
        Drop(VirtioNetDrop.ReceiveChainRefused, problem);
        return false;
    }

    /// <summary>Returns the chains a frame of <paramref name="length"/> bytes filled; false if it was dropped.</summary>
    private bool Deliver(int length)
    {
        if (length < VirtioNetHeader.Size || (ulong)length > _heldCapacity)
        {
            // The frame ran into the overflow byte after the guest's buffers (older kernels instead
            // report its full size): the guest would get a cut frame, so it is dropped and the buffers
            // kept for the next one.
            Drop(VirtioNetDrop.ReceiveTruncated, $"a frame did not fit the {_heldCapacity} bytes of receive buffers held");
            return false;
        }

        // The chains the frame reached, oldest first: all but the last are full.
        int used = 0;
        for (ulong left = (ulong)length; left > 0; used++)
            left -= Math.Min(_held[(_first + used) % _held.Length].WritableLength, left);

        // The tap wrote the header's first ten bytes; the device owns num_buffers (1 without
        // MRG_RXBUF, §5.1.6.4), and without GUEST_CSUM it MUST leave flags zero (§5.1.6.4.1) where the
        // tap may have set DATA_VALID.
        DescriptorChain first = _held[_first];
        Span<byte> field = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(field, (ushort)used);
        first.CopyToWritable(_memory, VirtioNetHeader.NumBuffersOffset, field);
        if (!_guestChecksum)
        {
            field.Clear();
            first.CopyToWritable(_memory, 0, field[..1]);
        }

        ulong remaining = (ulong)length;
        for (int i = 0; i < used; i++)
        {
            DescriptorChain chain = _held[_first];
            uint n = (uint)Math.Min(chain.WritableLength, remaining);
            _ring.AddUsed(chain.Head, n);
            remaining -= n;
            _heldDescriptors -= chain.Count;
            _first = (_first + 1) % _held.Length;
            _heldCount--;
        }
        // Published at once so the guest can start on it; the interrupt decision waits for the tap to
        // run dry (or a batch), as the seed's will_block did.
        _ring.PublishUsed();
        if (++_unsignalled == Batch)
            Flush();
        _counters.Received(length - VirtioNetHeader.Size);

        // What is left starts the next frame's buffer list.
        _iovCount = 0;
        _iovChains = 0;
        _heldCapacity = 0;
        int next = 0;
        while (next < _heldCount && TryAppend(_held[(_first + next) % _held.Length]))
            next++;
        return true;
    }

    private void Drop(VirtioNetDrop reason, string detail) =>
        _logger.Dropped(_counters.Dropped(reason) ? LogLevel.Warning : LogLevel.Trace, _device, reason, detail);
}
