using System.Text;

namespace Lguest.Devices;

/// <summary>One shared folder: the host directory, the tag the guest mounts it by, and the limits a guest cannot pass.</summary>
public sealed class VirtioFsOptions
{
    /// <summary>The tag field's size in the configuration space (virtio 1.2 §5.11.4): a tag is 1 to 36 bytes of UTF-8.</summary>
    public const int MaxTagBytes = 36;

    /// <summary>
    /// The default queue size: the guest's virtio-fs driver sends at most (queue size − 4) pages in one
    /// request, so 1024 lets it move the full 1 MiB (256 pages) the server announces.
    /// </summary>
    public const ushort DefaultQueueSize = 1024;

    /// <summary>The smallest queue: a request's header, arguments, reply header and result, and a power of two.</summary>
    public const ushort MinQueueSize = 8;

    /// <summary>The largest split virtqueue (virtio 1.2 §2.7).</summary>
    public const ushort MaxQueueSize = 32768;

    /// <summary>The most nodes or open files a cap may allow: each holds one host descriptor.</summary>
    public const int MaxTableSize = 1 << 20;

    /// <summary>The host directory to share. Opened once, at the first boot; the guest sees it and what lies below it, nothing else.</summary>
    public string HostDirectory { get; set; } = "";

    /// <summary>The name the guest mounts the share by (<c>mount -t virtiofs TAG /mnt</c>): 1 to <see cref="MaxTagBytes"/> bytes of UTF-8, no NUL.</summary>
    public string Tag { get; set; } = "";

    /// <summary>Refuse every change with EROFS: writes, creations, removals, renames, attribute changes.</summary>
    public bool ReadOnly { get; set; }

    /// <summary>Each queue's maximum size (the high-priority queue and the request queue): a power of two from <see cref="MinQueueSize"/> to <see cref="MaxQueueSize"/>.</summary>
    public ushort QueueSize { get; set; } = DefaultQueueSize;

    /// <summary>
    /// The most files and directories the guest may know at once (FUSE nodes it has looked up and not
    /// forgotten; each holds an O_PATH descriptor on the host). Past it lookups fail with ENFILE until the
    /// guest forgets some. The process's open-file limit (RLIMIT_NOFILE) must leave room for it.
    /// </summary>
    public int MaxInodes { get; set; } = 32768;

    /// <summary>The most files and directories the guest may have open at once; past it opens fail with EMFILE.</summary>
    public int MaxHandles { get; set; } = 4096;

    /// <summary>
    /// How long the guest may trust a name or an attribute it was told before asking again: changes made on
    /// the host show in the guest at most this late (file data: at the next open). Default 1 s.
    /// </summary>
    public TimeSpan CacheTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The device's name in messages; null for "fs" and its index among the shares added.</summary>
    public string? Name { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(HostDirectory))
            throw new ArgumentException("the shared folder's path is empty", nameof(HostDirectory));
        int tagBytes = Encoding.UTF8.GetByteCount(Tag);
        if (tagBytes == 0 || tagBytes > MaxTagBytes || Tag.Contains('\0', StringComparison.Ordinal))
            throw new ArgumentException($"the tag '{Tag}' is not 1 to {MaxTagBytes} bytes of UTF-8 without NUL", nameof(Tag));
        if (QueueSize < MinQueueSize || QueueSize > MaxQueueSize || !ushort.IsPow2(QueueSize))
            throw new ArgumentException($"queue size {QueueSize} is not a power of two from {MinQueueSize} to {MaxQueueSize}", nameof(QueueSize));
        if (MaxInodes < 2 || MaxInodes > MaxTableSize)
            throw new ArgumentException($"{MaxInodes} nodes is outside 2..{MaxTableSize}", nameof(MaxInodes));
        if (MaxHandles < 1 || MaxHandles > MaxTableSize)
            throw new ArgumentException($"{MaxHandles} open files is outside 1..{MaxTableSize}", nameof(MaxHandles));
        if (CacheTimeout < TimeSpan.Zero || CacheTimeout > TimeSpan.FromDays(1))
            throw new ArgumentException($"cache timeout {CacheTimeout} is outside 0 to one day", nameof(CacheTimeout));
        if (Name is not null && string.IsNullOrWhiteSpace(Name))
            throw new ArgumentException("the device name is blank", nameof(Name));
    }
}
