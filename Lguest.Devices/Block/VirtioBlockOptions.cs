namespace Lguest.Devices;

/// <summary>One virtio block device: the disk image behind it and how the guest sees it.</summary>
public sealed class VirtioBlockOptions
{
    /// <summary>The length of the device ID string GET_ID returns (VIRTIO_BLK_ID_BYTES, virtio 1.2 §5.2.6).</summary>
    public const int SerialLength = 20;

    /// <summary>The smallest queue: room for a header, one data segment and the status byte, and a power of two.</summary>
    public const ushort MinQueueSize = 4;

    /// <summary>The largest split virtqueue (virtio 1.2 §2.7).</summary>
    public const ushort MaxQueueSize = 32768;

    /// <summary>The disk image: a regular file, whose size (rounded down to 512 bytes) is the disk's capacity.</summary>
    public string Path { get; set; } = "";

    /// <summary>Open the image read-only and offer VIRTIO_BLK_F_RO; writes fail with VIRTIO_BLK_S_IOERR.</summary>
    public bool ReadOnly { get; set; }

    /// <summary>
    /// The device ID the guest reads with GET_ID (Linux: /sys/block/vda/serial): printable ASCII, at most
    /// <see cref="SerialLength"/> characters. Null: the image's file name, cut to fit, with anything not
    /// printable ASCII replaced by '_'.
    /// </summary>
    public string? Serial { get; set; }

    /// <summary>The request queue's maximum size: a power of two from <see cref="MinQueueSize"/> to <see cref="MaxQueueSize"/>.</summary>
    public ushort QueueSize { get; set; } = 256;

    /// <summary>
    /// How long a queue's worker may poll the ring for the driver's next requests after serving some,
    /// before it sleeps and asks for a notification (the window adapts up to this, as QEMU's
    /// poll-max-ns; see <see cref="Virtio.PollWindow"/>). Default 32 µs; <see cref="TimeSpan.Zero"/> never polls;
    /// at most <see cref="Virtio.PollWindow.MaxLimit"/>. A process that can run on one CPU only never polls.
    /// </summary>
    public TimeSpan MaxPollTime { get; set; } = Virtio.PollWindow.DefaultMax;

    /// <summary>The most request queues (num_queues, VIRTIO_BLK_F_MQ); give the vCPU count for one queue per vCPU.</summary>
    public const ushort MaxNumQueues = 64;

    /// <summary>The most requests one queue keeps in flight with <see cref="VirtioBlockIoEngine.IoUring"/>.</summary>
    public const int MaxInFlightLimit = 1024;

    /// <summary>How the queues do their I/O: <see cref="VirtioBlockIoEngine.IoUring"/> (default) or <see cref="VirtioBlockIoEngine.Sync"/>.</summary>
    public VirtioBlockIoEngine IoEngine { get; set; } = VirtioBlockIoEngine.IoUring;

    /// <summary>
    /// Request queues, each served by its own worker (and io_uring): 1 to <see cref="MaxNumQueues"/>. Above 1
    /// the device offers VIRTIO_BLK_F_MQ and Linux maps its CPUs onto the queues (blk-mq).
    /// </summary>
    public ushort NumQueues { get; set; } = 1;

    /// <summary>
    /// The most requests one queue keeps in flight with io_uring (also capped by the queue size), 1 to
    /// <see cref="MaxInFlightLimit"/>. Default 128: more than Linux's usual queue depth per queue (fio's
    /// iodepth=32, the block layer's 64 or 128), few enough that the native iovecs stay small.
    /// </summary>
    public int MaxInFlight { get; set; } = 128;

    /// <summary>
    /// With <see cref="VirtioBlockIoEngine.IoUring"/>: requests popped together that continue each other (the same
    /// direction, the next byte of the image) go to the kernel as one transfer, as QEMU's virtio-blk merges them;
    /// each still completes with its own status. Default true (bench/README.md, issue 20: what it measured).
    /// </summary>
    public bool MergeRequests { get; set; } = true;

    /// <summary>
    /// With <see cref="VirtioBlockIoEngine.IoUring"/> or <see cref="VirtioBlockIoEngine.Threads"/>: a lone small
    /// request (nothing in flight, nothing else available: a driver at queue depth 1) is served on the vCPU thread
    /// that notified, in the notification's exit, while the queue's worker sleeps, as QEMU does with
    /// <c>ioeventfd=off</c>: no thread wake-up between the driver and the I/O. The queues then take no KVM ioeventfd
    /// (each notification is a vCPU exit to the launcher); at depth the worker serves as before. Default true
    /// (bench/README.md, issue 20's fourth pass: what it measured).
    /// </summary>
    public bool ServeOnVcpu { get; set; } = true;

    /// <summary>
    /// Offer VIRTIO_BLK_F_DISCARD and VIRTIO_BLK_F_WRITE_ZEROES (writable disks only): the guest's discards
    /// punch holes in the image, so `fstrim` gives space back to the host. Default true.
    /// </summary>
    public bool Discard { get; set; } = true;

    /// <summary>The device's name in messages; null for "block" and its index among the block devices added.</summary>
    public string? Name { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
            throw new ArgumentException("the disk image path is empty", nameof(Path));
        if (Serial is not null && (Serial.Length > SerialLength || !Serial.All(c => c is >= ' ' and <= '~')))
            throw new ArgumentException($"the serial '{Serial}' is not printable ASCII of at most {SerialLength} characters", nameof(Serial));
        if (QueueSize < MinQueueSize || QueueSize > MaxQueueSize || !ushort.IsPow2(QueueSize))
            throw new ArgumentException($"queue size {QueueSize} is not a power of two from {MinQueueSize} to {MaxQueueSize}", nameof(QueueSize));
        if (MaxPollTime < TimeSpan.Zero || MaxPollTime > Virtio.PollWindow.MaxLimit)
            throw new ArgumentException($"poll time {MaxPollTime.TotalMicroseconds} µs is not from 0 to {Virtio.PollWindow.MaxLimit.TotalMicroseconds} µs", nameof(MaxPollTime));
        if (NumQueues < 1 || NumQueues > MaxNumQueues)
            throw new ArgumentException($"{NumQueues} queues is not from 1 to {MaxNumQueues}", nameof(NumQueues));
        if (MaxInFlight < 1 || MaxInFlight > MaxInFlightLimit)
            throw new ArgumentException($"{MaxInFlight} requests in flight is not from 1 to {MaxInFlightLimit}", nameof(MaxInFlight));
        if (!Enum.IsDefined(IoEngine))
            throw new ArgumentException($"I/O engine {IoEngine} is not io_uring or sync", nameof(IoEngine));
        if (Name is not null && string.IsNullOrWhiteSpace(Name))
            throw new ArgumentException("the device name is blank", nameof(Name));
    }

    /// <summary>The 20-byte ID: <see cref="Serial"/> or the file name, NUL-padded.</summary>
    internal byte[] IdBytes()
    {
        string serial = Serial ?? new string(System.IO.Path.GetFileName(Path).Take(SerialLength)
            .Select(c => c is > ' ' and <= '~' ? c : '_').ToArray());
        var id = new byte[SerialLength];
        for (int i = 0; i < serial.Length && i < SerialLength; i++)
            id[i] = (byte)serial[i];
        return id;
    }
}
