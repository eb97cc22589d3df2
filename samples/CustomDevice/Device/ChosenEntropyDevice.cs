using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace CustomDevice;

/// <summary>
/// A virtio entropy device (virtio 1.2 §5.4, device ID 4) whose bytes come from a source the embedder supplies, so an
/// unmodified Linux guest's <c>virtio_rng</c> driver binds it and <c>/dev/hwrng</c> reads those bytes. The public
/// <see cref="VirtioDevice"/> base does the rest: one worker per queue (<see cref="DeviceWorkers"/>), reset, pause, and
/// the containment of a driver's errors (a <see cref="BadDriverException"/> thrown on the worker marks this device
/// DEVICE_NEEDS_RESET; the launcher and the other devices carry on).
/// </summary>
public sealed class ChosenEntropyDevice : VirtioDevice
{
    /// <summary>The queue's size: a few requests in flight are plenty for an entropy device.</summary>
    public const ushort QueueSize = 64;

    /// <summary>The most bytes given to one request, whatever its buffers add up to: one bounded call of the source.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    private readonly GuestMemory _memory;
    private readonly Action<Span<byte>> _source;

    /// <summary>Creates the device for one boot.</summary>
    /// <param name="memory">The guest's RAM, where the driver's buffers are.</param>
    /// <param name="source">Fills a span with the bytes the guest gets, called on the device's worker thread.</param>
    /// <param name="logger">Where the base logs (a bad driver, a reset); null for nowhere.</param>
    public ChosenEntropyDevice(GuestMemory memory, Action<Span<byte>> source, ILogger? logger = null)
        : base("chosen-entropy", logger)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(source);
        _memory = memory;
        _source = source;
    }

    /// <summary>Entropy: what Linux's <c>virtio_rng</c> binds.</summary>
    public override VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;

    /// <summary>
    /// The ring features the public <see cref="Vring"/> serves by itself (indirect descriptors, the event index: a
    /// chain popped is the same either way) and VIRTIO_F_VERSION_1; the entropy device has no features of its own (§5.4.3).
    /// </summary>
    public override ulong DeviceFeatures => VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;

    /// <summary>One queue, the requestq (§5.4.2).</summary>
    public override IReadOnlyList<ushort> QueueMaxSizes { get; } = [QueueSize];

    /// <summary>The driver set DRIVER_OK: one worker serves the requestq until the base stops it (reset, pause, exit).</summary>
    protected override void OnActivate(VirtioActivation activation, DeviceWorkers workers)
    {
        ArgumentNullException.ThrowIfNull(activation);
        ArgumentNullException.ThrowIfNull(workers);
        if (activation.Queues is [{ } queue, ..])
            workers.Start("chosen-entropy requestq", () => Serve(queue, activation.Transport, workers));
    }

    /// <summary>Fills each request's writable buffers from the source; returns when the base asks the workers to stop.</summary>
    /// <exception cref="BadDriverException">The driver broke a rule: the base contains it to this device.</exception>
    private void Serve(Virtqueue queue, IVirtioTransport transport, DeviceWorkers workers)
    {
        var chain = new DescriptorChain();
        Vring ring = queue.Ring;
        while (ring.WaitForAvailable(queue.Notifier, workers.Stop))
        {
            int served = 0;
            // At most a ring's worth per wake-up: a driver that keeps adding cannot hold the worker forever.
            while (served < ring.Size && ring.TryPop(chain))
            {
                // §5.4.6.1: requests hold device-writable buffers only.
                if (chain.Readable.Length != 0)
                    throw new BadDriverException(Name, "a device-readable buffer in the requestq");
                int filled = 0;
                foreach (GuestBuffer buffer in chain.Writable)
                {
                    // The chain's buffers were checked to lie in guest RAM; the length is capped before any span is made.
                    int n = (int)Math.Min(buffer.Length, (uint)(MaxRequestBytes - filled));
                    _source(_memory.GetSpan(buffer.Address, n));
                    filled += n;
                    if (filled == MaxRequestBytes)
                        break;
                }
                ring.AddUsed(chain.Head, (uint)filled);
                served++;
            }
            if (served != 0)
            {
                ring.PublishUsed();
                if (ring.NeedsInterrupt())
                    transport.SignalUsedBuffers(queue.Index);
            }
        }
    }
}
