using System.Buffers;
using System.IO.Pipelines;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// The console's transmitq (port 0, virtio 1.2 §5.3.6): the guest's output to the host. Each batch
/// is flushed before its buffers go back, so a slow host output holds the guest's buffers and the
/// guest waits (backpressure) instead of the host buffering without bound.
/// </summary>
internal sealed class ConsoleTransmitter(GuestMemory memory, PipeWriter output, Virtqueue queue, IVirtioTransport transport,
    string name, ILogger logger)
{
    // Copy at most this much guest memory per span: a descriptor may be up to 4 GiB.
    private const uint CopyChunk = 1 << 20;

    private readonly DescriptorChain _chain = new();
    private bool _outputBroken;

    /// <summary>Transmits until stopped.</summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring or of the transmitq.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> fired while the host output was blocked.</exception>
    /// <param name="stop">Ends the worker.</param>
    /// <param name="cancellation">Ends a wait for the host output.</param>
    /// <param name="pausing">
    /// True when the stop is a pause (<see cref="DeviceWorkers.IsPausing"/>): a batch whose flush was cancelled is still
    /// returned to the driver (its bytes are in the pipe), since the resumed worker serves the ring from past it. On a
    /// reset it stays unreturned: the driver has given the ring up. Null: always a reset.
    /// </param>
    public void Run(EventNotifier stop, CancellationToken cancellation, Func<bool>? pausing = null)
    {
        _pausing = pausing;
        while (queue.Ring.WaitForAvailable(queue.Notifier, stop))
            TransmitAvailable(cancellation);
    }

    private Func<bool>? _pausing;

    /// <summary>Writes every available chain (up to a queue's worth) to the host, flushes, and returns them used.</summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring or of the transmitq.</exception>
    public int TransmitAvailable(CancellationToken cancellation)
    {
        Vring ring = queue.Ring;
        int chains = 0;
        long bytes = 0;
        while (chains < ring.Size && ring.TryPop(_chain))
        {
            // §5.3.6.1 (the seed's check too): the transmitq holds device-readable buffers only.
            if (_chain.Writable.Length != 0)
                throw new BadDriverException(ring.Name, "device-writable buffer in the console's transmit queue");
            if (!_outputBroken)
            {
                foreach (GuestBuffer buffer in _chain.Readable)
                {
                    for (uint done = 0; done < buffer.Length; done += CopyChunk)
                    {
                        int n = (int)Math.Min(CopyChunk, buffer.Length - done);
                        output.Write(memory.GetSpan(buffer.Address.Offset(done), n));
                    }
                }
            }
            bytes += (long)_chain.ReadableLength;
            ring.AddUsed(_chain.Head, 0);
            chains++;
        }
        if (chains != 0)
        {
            try
            {
                Flush(cancellation);
            }
            catch (OperationCanceledException) when (_pausing?.Invoke() == true)
            {
                // Paused while the host's output was full: the bytes are in the pipe already, and a paused worker
                // must not keep chains it took, so they go back now.
            }
            ring.PublishUsed();
            if (ring.NeedsInterrupt())
                transport.SignalUsedBuffers(queue.Index);
            logger.Moved(name, bytes, chains, "from the guest");
        }
        return chains;
    }

    private void Flush(CancellationToken cancellation)
    {
        if (_outputBroken)
            return;
        try
        {
            // Waits while the host's side of the pipe is full: the guest's buffers stay unreturned.
            if (PipeWaits.Flush(output, cancellation).IsCompleted)
            {
                _outputBroken = true;
                logger.OutputFailed(name, "the reader has gone");
            }
        }
        catch (IOException e)
        {
            _outputBroken = true;
            logger.OutputFailed(name, e.Message);
        }
    }
}
