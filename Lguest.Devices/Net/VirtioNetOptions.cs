namespace Lguest.Devices;

/// <summary>One virtio network card: its tap, how the host end is configured, and what the guest is offered.</summary>
public sealed class VirtioNetOptions
{
    /// <summary>The smallest queue: a power of two with room for a frame's header and data in separate descriptors.</summary>
    public const ushort MinQueueSize = 2;

    /// <summary>The largest split virtqueue (virtio 1.2 §2.7).</summary>
    public const ushort MaxQueueSize = 32768;

    /// <summary>
    /// How the host end is configured (<c>--tunnet</c>): an IPv4 address, or a bridge to join. Null: the
    /// tap is brought up and nothing else (a pre-created tap named by <see cref="TapName"/>, configured by
    /// whoever created it).
    /// </summary>
    public TunnetSpec? Tunnet { get; set; }

    /// <summary>The tap's name, or a pattern with %d; null for the kernel's "tap%d". Naming an existing persistent tap attaches to it.</summary>
    public string? TapName { get; set; }

    /// <summary>The guest's MAC address; null for <see cref="Tunnet"/>'s, or else a random locally-administered one.</summary>
    public MacAddress? Mac { get; set; }

    /// <summary>
    /// Offer the checksum and segmentation offloads (VIRTIO_NET_F_CSUM, GUEST_CSUM, HOST/GUEST_TSO4/6,
    /// ECN). False: every frame crosses whole and checksummed, as with a driver that refuses them.
    /// </summary>
    public bool Offloads { get; set; } = true;

    /// <summary>Offer VIRTIO_NET_F_MRG_RXBUF, so the guest posts page-sized receive buffers that one frame may span.</summary>
    public bool MergeableRxBuffers { get; set; } = true;

    /// <summary>The maximum size of each queue: a power of two from <see cref="MinQueueSize"/> to <see cref="MaxQueueSize"/>.</summary>
    public ushort QueueSize { get; set; } = 256;

    /// <summary>
    /// How long a queue's worker may poll the ring for the driver's next requests after serving some,
    /// before it sleeps and asks for a notification (the window adapts up to this, as QEMU's
    /// poll-max-ns; see <see cref="Virtio.PollWindow"/>). Default 32 µs; <see cref="TimeSpan.Zero"/> never polls;
    /// at most <see cref="Virtio.PollWindow.MaxLimit"/>. A process that can run on one CPU only never polls.
    /// </summary>
    public TimeSpan MaxPollTime { get; set; } = Virtio.PollWindow.DefaultMax;

    /// <summary>
    /// Write the frames of a transmit notification to the tap on the vCPU that notified, in its exit (QEMU's
    /// <c>ioeventfd=off</c>), when the transmit worker is asleep: up to 64 frames or 128 KiB, one writev each, where
    /// waking the worker would cost a thread wake-up each way. A full tap or more frames leave the rest to the worker.
    /// Default true; false: every notification wakes the worker (a KVM ioeventfd).
    /// </summary>
    public bool TransmitOnVcpu { get; set; } = true;

    /// <summary>The device's name in messages; null for "net" and its index among the network devices added.</summary>
    public string? Name { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (TapName is not null && (TapName.Length is 0 or > 15 || TapName.Any(c => c <= ' ' || c >= 0x7f || c is '/' or ':')))
            throw new ArgumentException($"the tap name '{TapName}' is not an interface name of 1 to 15 characters", nameof(TapName));
        if (Mac is MacAddress mac && (mac.IsMulticast || mac.IsZero))
            throw new ArgumentException($"the MAC address {mac} cannot be a card's address", nameof(Mac));
        if (QueueSize < MinQueueSize || QueueSize > MaxQueueSize || !ushort.IsPow2(QueueSize))
            throw new ArgumentException($"queue size {QueueSize} is not a power of two from {MinQueueSize} to {MaxQueueSize}", nameof(QueueSize));
        if (MaxPollTime < TimeSpan.Zero || MaxPollTime > Virtio.PollWindow.MaxLimit)
            throw new ArgumentException($"poll time {MaxPollTime.TotalMicroseconds} µs is not from 0 to {Virtio.PollWindow.MaxLimit.TotalMicroseconds} µs", nameof(MaxPollTime));
        if (Name is not null && string.IsNullOrWhiteSpace(Name))
            throw new ArgumentException("the device name is blank", nameof(Name));
    }
}
