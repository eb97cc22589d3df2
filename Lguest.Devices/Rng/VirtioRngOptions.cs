namespace Lguest.Devices;

/// <summary>The virtio entropy device's options.</summary>
public sealed class VirtioRngOptions
{
    /// <summary>The largest split virtqueue (virtio 1.2 §2.7).</summary>
    public const ushort MaxQueueSize = 32768;

    /// <summary>The most bytes one request may take, whatever the guest's buffers hold.</summary>
    public const int MaxRequestBytesLimit = 1 << 20;

    /// <summary>The request queue's maximum size: a power of two up to <see cref="MaxQueueSize"/>.</summary>
    public ushort QueueSize { get; set; } = 64;

    /// <summary>
    /// The most random bytes one request receives (the used length says how many it got): bounds the
    /// time one request holds the worker however large the guest's buffer. 1 to <see cref="MaxRequestBytesLimit"/>.
    /// </summary>
    public int MaxRequestBytes { get; set; } = 64 * 1024;

    /// <summary>The device's name in messages; null for "rng" and its index among the rng devices added.</summary>
    public string? Name { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (QueueSize == 0 || QueueSize > MaxQueueSize || !ushort.IsPow2(QueueSize))
            throw new ArgumentException($"queue size {QueueSize} is not a power of two up to {MaxQueueSize}", nameof(QueueSize));
        if (MaxRequestBytes < 1 || MaxRequestBytes > MaxRequestBytesLimit)
            throw new ArgumentException($"{MaxRequestBytes} bytes per request is outside 1..{MaxRequestBytesLimit}", nameof(MaxRequestBytes));
        if (Name is not null && string.IsNullOrWhiteSpace(Name))
            throw new ArgumentException("the device name is blank", nameof(Name));
    }
}
