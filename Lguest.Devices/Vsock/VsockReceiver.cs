using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Devices;

/// <summary>
/// The receive queue's worker (rx, queue 0, virtio 1.2 §5.10.6.4): fills the guest's receive buffers with
/// the packets the muxer has for it, one packet per chain, the payload read from the host end straight into
/// the guest's buffer. It sleeps on the muxer's work signal while nothing waits, on the queue's notification
/// while buffers are missing; a chain it popped but could not use yet is kept for the next packet.
/// </summary>
internal sealed class VsockReceiver(GuestMemory memory, Virtqueue queue, IVirtioTransport transport, VsockMuxer muxer)
{
    private readonly DescriptorChain _chain = new();
    private GuestBuffer[] _scratch = new GuestBuffer[8];
    private bool _held;
    private int _unsignalled;

    /// <summary>
    /// Delivers what the muxer has while the guest has buffers (at most a queue's worth), then decides on an
    /// interrupt; returns the packets delivered.
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring or posted a chain that cannot hold a packet.</exception>
    public int ServeAvailable()
    {
        int packets = 0;
        while (packets < queue.Ring.Size && muxer.HasPackets && TryHoldChain() && Deliver())
            packets++;
        Flush();
        return packets;
    }

    /// <summary>Whether packets wait for the guest and it has posted no buffer for them.</summary>
    public bool NeedsBuffers => muxer.HasPackets && !TryHoldChain();

    /// <summary>
    /// Writes the muxer's next packet into the held chain and returns it to the guest (the interrupt decision
    /// waits for <see cref="Flush"/>); false when nothing was waiting after all, the chain still held.
    /// </summary>
    private bool Deliver()
    {
        if (_scratch.Length < _chain.Writable.Length)
            Array.Resize(ref _scratch, Math.Max(_chain.Writable.Length, _scratch.Length * 2));
        uint length = muxer.WritePacket(memory, _chain, _scratch);
        if (length == 0)
            return false;
        queue.Ring.AddUsed(_chain.Head, length);
        queue.Ring.PublishUsed(); // at once: the guest can take it before the batch ends
        _held = false;
        _unsignalled++;
        return true;
    }

    // Pops a chain to hold for the next packet; false when the ring has none.
    private bool TryHoldChain()
    {
        if (_held)
            return true;
        if (!queue.Ring.TryPop(_chain))
            return false;
        CheckChain(queue.Ring.Name);
        _held = true;
        return true;
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
    private void CheckChain(string name)
    {
        if (_chain.Readable.Length != 0)
            throw new BadDriverException(name, "device-readable buffer in the vsock receive queue");
        if (_chain.WritableLength < VsockHeader.Size)
            throw new BadDriverException(name, $"a {_chain.WritableLength}-byte receive chain cannot hold the {VsockHeader.Size}-byte vsock header");
    }
}
