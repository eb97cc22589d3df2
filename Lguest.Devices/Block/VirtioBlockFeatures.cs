namespace Lguest.Devices;

/// <summary>Block device feature bits, virtio 1.2 §5.2.3.</summary>
public static class VirtioBlockFeatures
{
    /// <summary>VIRTIO_BLK_F_SIZE_MAX (1): the largest segment is in size_max.</summary>
    public const ulong SizeMax = 1UL << 1;

    /// <summary>VIRTIO_BLK_F_SEG_MAX (2): the most segments in a request is in seg_max.</summary>
    public const ulong SegMax = 1UL << 2;

    /// <summary>VIRTIO_BLK_F_GEOMETRY (4): disk-style geometry in geometry.</summary>
    public const ulong Geometry = 1UL << 4;

    /// <summary>VIRTIO_BLK_F_RO (5): the device is read-only.</summary>
    public const ulong ReadOnly = 1UL << 5;

    /// <summary>VIRTIO_BLK_F_BLK_SIZE (6): the logical block size is in blk_size.</summary>
    public const ulong BlockSize = 1UL << 6;

    /// <summary>VIRTIO_BLK_F_FLUSH (9): the device executes VIRTIO_BLK_T_FLUSH.</summary>
    public const ulong Flush = 1UL << 9;

    /// <summary>VIRTIO_BLK_F_TOPOLOGY (10): optimal I/O alignment in the topology fields.</summary>
    public const ulong Topology = 1UL << 10;

    /// <summary>VIRTIO_BLK_F_CONFIG_WCE (11): the driver can switch the cache between writeback and writethrough.</summary>
    public const ulong ConfigWce = 1UL << 11;

    /// <summary>VIRTIO_BLK_F_MQ (12): more than one request queue, counted in num_queues.</summary>
    public const ulong MultiQueue = 1UL << 12;

    /// <summary>VIRTIO_BLK_F_DISCARD (13): the device executes VIRTIO_BLK_T_DISCARD.</summary>
    public const ulong Discard = 1UL << 13;

    /// <summary>VIRTIO_BLK_F_WRITE_ZEROES (14): the device executes VIRTIO_BLK_T_WRITE_ZEROES.</summary>
    public const ulong WriteZeroes = 1UL << 14;
}
