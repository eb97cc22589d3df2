using Lguest.Devices.Interop;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// The entropy device's requestq (virtio 1.2 §5.4.6): each chain is one request, whose writable
/// buffers are filled straight from the OS's CSPRNG (getrandom), up to the per-request limit.
/// </summary>
internal sealed class RngRequestQueue(GuestMemory memory, Virtqueue queue, IVirtioTransport transport, int maxRequestBytes,
    string name, ILogger logger)
{
    private readonly DescriptorChain _chain = new();

    /// <summary>Serves requests until stopped.</summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring or of the requestq.</exception>
    public void Run(EventNotifier stop)
    {
        while (queue.Ring.WaitForAvailable(queue.Notifier, stop))
            ServeAvailable();
    }

    /// <summary>Fills every available request (up to a queue's worth), publishing them with one interrupt decision.</summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring or of the requestq.</exception>
    public int ServeAvailable()
    {
        Vring ring = queue.Ring;
        int chains = 0;
        long bytes = 0;
        while (chains < ring.Size && ring.TryPop(_chain))
        {
            // §5.4.6.1: the driver MUST NOT place driver-readable buffers in the queue (the seed refused them too).
            if (_chain.Readable.Length != 0)
                throw new BadDriverException(ring.Name, "device-readable buffer in the entropy request queue");
            uint filled = 0;
            foreach (GuestBuffer buffer in _chain.Writable)
            {
                int n = (int)Math.Min(buffer.Length, (uint)(maxRequestBytes - (int)filled));
                KernelRandom.Fill(memory.GetSpan(buffer.Address, n));
                filled += (uint)n;
                if (filled == maxRequestBytes)
                    break;
            }
            ring.AddUsed(_chain.Head, filled);
            bytes += filled;
            chains++;
        }
        if (chains != 0)
        {
            ring.PublishUsed();
            if (ring.NeedsInterrupt())
                transport.SignalUsedBuffers(queue.Index);
            logger.Filled(name, bytes, chains);
        }
        return chains;
    }
}
