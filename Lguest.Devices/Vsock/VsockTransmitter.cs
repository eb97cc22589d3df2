using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Devices;

/// <summary>
/// The transmit queue's worker (tx, queue 1, virtio 1.2 §5.10.6.4): every chain is one packet from the guest,
/// parsed once (<see cref="VsockPacket"/>), handed to the muxer (data goes straight from guest memory to the
/// host end), and returned with used length 0. It never waits for the host or for receive buffers (§5.10.6.1:
/// the tx queue is processed even while rx is full): what the host cannot take now is held, within credit.
/// <see cref="VsockWorker"/> runs it beside the receive queue.
/// </summary>
internal sealed class VsockTransmitter(GuestMemory memory, Virtqueue queue, IVirtioTransport transport, VsockMuxer muxer)
{
    private readonly DescriptorChain _chain = new();
    private readonly VsockPacket _packet = new();

    /// <summary>Handles every available packet (up to a queue's worth), returning them with one interrupt decision.</summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring or put a chain that is no packet.</exception>
    public int ServeAvailable()
    {
        Vring ring = queue.Ring;
        int chains = 0;
        while (chains < ring.Size && ring.TryPop(_chain))
        {
            _packet.ReadFrom(memory, _chain, ring.Name);
            muxer.OnGuestPacket(_packet, memory);
            ring.AddUsed(_chain.Head, 0);
            chains++;
        }
        if (chains != 0)
        {
            muxer.FlushGathered(); // the pass's data reaches the host ends before its buffers go back to the guest
            ring.PublishUsed();
            if (ring.NeedsInterrupt())
                transport.SignalUsedBuffers(queue.Index);
        }
        return chains;
    }
}
