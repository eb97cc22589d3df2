using System.Buffers;
using System.IO.Pipelines;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// The console's receiveq (port 0, virtio 1.2 §5.3.6): host input into the buffers the driver
/// posted. Input the guest has no buffer for stays in the pipe, untaken, while this worker sleeps on
/// the queue's notifier: nothing is dropped and nothing spins.
/// </summary>
internal sealed class ConsoleReceiver(GuestMemory memory, PipeReader input, Virtqueue queue, IVirtioTransport transport,
    string name, ILogger logger)
{
    private readonly DescriptorChain _chain = new();

    /// <summary>Delivers host input until stopped or the input ends.</summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring or of the receiveq.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> fired while waiting for input.</exception>
    public void Run(EventNotifier stop, CancellationToken cancellation)
    {
        while (true)
        {
            ReadResult result;
            try
            {
                result = PipeWaits.Read(input, cancellation);
            }
            catch (IOException e)
            {
                logger.InputFailed(name, e.Message);
                return;
            }
            ReadOnlySequence<byte> pending = result.Buffer;
            try
            {
                while (!pending.IsEmpty)
                {
                    Deliver(ref pending);
                    if (!pending.IsEmpty && !queue.Ring.WaitForAvailable(queue.Notifier, stop))
                        return;
                }
            }
            finally
            {
                // Consumed and examined alike: what the guest has not taken is read again at once,
                // by this worker or, after a reset, by the next activation's.
                input.AdvanceTo(pending.Start);
            }
            if (result.IsCompleted)
            {
                logger.InputEnded(name);
                return;
            }
        }
    }

    /// <summary>
    /// Fills as many available receive buffers as <paramref name="pending"/> needs (up to a queue's
    /// worth), removes what it delivered, and publishes them with one interrupt decision.
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring or of the receiveq.</exception>
    public int Deliver(ref ReadOnlySequence<byte> pending)
    {
        Vring ring = queue.Ring;
        int chains = 0;
        long bytes = 0;
        while (!pending.IsEmpty && chains < ring.Size && ring.TryPop(_chain))
        {
            // §5.3.6.1 (the seed's check too): the receiveq holds device-writable buffers only.
            if (_chain.Readable.Length != 0)
                throw new BadDriverException(ring.Name, "device-readable buffer in the console's receive queue");
            uint written = 0;
            foreach (GuestBuffer buffer in _chain.Writable)
            {
                written += Fill(buffer, ref pending);
                if (pending.IsEmpty)
                    break;
            }
            ring.AddUsed(_chain.Head, written);
            bytes += written;
            chains++;
        }
        if (chains != 0)
        {
            ring.PublishUsed();
            if (ring.NeedsInterrupt())
                transport.SignalUsedBuffers(queue.Index);
            logger.Moved(name, bytes, chains, "to the guest");
        }
        return chains;
    }

    private uint Fill(GuestBuffer buffer, ref ReadOnlySequence<byte> pending)
    {
        uint filled = 0;
        while (filled < buffer.Length && !pending.IsEmpty)
        {
            ReadOnlySpan<byte> source = pending.FirstSpan;
            int n = (int)Math.Min((uint)source.Length, buffer.Length - filled);
            source[..n].CopyTo(memory.GetSpan(buffer.Address.Offset(filled), n));
            pending = pending.Slice(n);
            filled += (uint)n;
        }
        return filled;
    }
}
