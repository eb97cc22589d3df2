using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Devices;

/// <summary>
/// The receive queue's worker (rx, queue 0, virtio 1.2 §5.10.6.4): fills the guest's receive buffers with
/// the packets the muxer has for it, one packet per chain, the payload read from the host end straight into
/// the guest's buffers (one read for as many chains as a connection's turn fills). It sleeps on the muxer's work
/// signal while nothing waits, on the queue's notification while buffers are missing; chains it popped but could
/// not use yet are kept, in order, for the next packets (<see cref="VsockReceiveChains"/>).
/// </summary>
internal sealed class VsockReceiver(GuestMemory memory, Virtqueue queue, IVirtioTransport transport, VsockMuxer muxer)
{
    private readonly VsockReceiveChains _held = new();
    private int _unsignalled;

    /// <summary>
    /// Delivers what the muxer has while the guest has buffers (at most a queue's worth), then decides on an
    /// interrupt; returns the packets delivered.
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring or posted a chain that cannot hold a packet.</exception>
    public int ServeAvailable()
    {
        int packets = 0;
        while (packets < queue.Ring.Size && muxer.HasPackets && TryHoldChains())
        {
            int delivered = Deliver();
            if (delivered == 0)
                break;
            packets += delivered;
        }
        Flush();
        return packets;
    }

    /// <summary>Whether packets wait for the guest and it has posted no buffer for them.</summary>
    public bool NeedsBuffers => muxer.HasPackets && !TryHoldChains();

    /// <summary>
    /// Writes the muxer's next packets into the held chains, from the oldest, and returns them to the guest (the
    /// interrupt decision waits for <see cref="Flush"/>); 0 when nothing was waiting after all, the chains still held.
    /// </summary>
    private int Deliver()
    {
        int packets = muxer.WritePackets(memory, _held);
        if (packets == 0)
            return 0;
        ReadOnlySpan<uint> lengths = _held.Lengths;
        for (int i = 0; i < packets; i++)
            queue.Ring.AddUsed(_held[i].Head, lengths[i]);
        queue.Ring.PublishUsed(); // at once: the guest can take them before the batch ends
        _held.Drop(packets);
        _unsignalled += packets;
        return packets;
    }

    // Tops the held chains up from the ring (each checked as it is popped); false when none is held.
    private bool TryHoldChains()
    {
        while (_held.TryPop(queue.Ring))
            CheckChain(_held[_held.Count - 1], queue.Ring.Name);
        return _held.Count != 0;
    }

    // Decides on an interrupt for what was published since the last decision.
    private void Flush()
    {
        if (_unsignalled == 0)
            return;
        _unsignalled = 0;
        if (queue.Ring.NeedsInterrupt())
            transport.SignalUsedBuffers(queue.Index);
    }

    // §5.10.6.4: receive buffers are device-writable, and each must take at least a header.
    private static void CheckChain(DescriptorChain chain, string name)
    {
        if (chain.Readable.Length != 0)
            throw new BadDriverException(name, "device-readable buffer in the vsock receive queue");
        if (chain.WritableLength < VsockHeader.Size)
            throw new BadDriverException(name, $"a {chain.WritableLength}-byte receive chain cannot hold the {VsockHeader.Size}-byte vsock header");
    }
}
