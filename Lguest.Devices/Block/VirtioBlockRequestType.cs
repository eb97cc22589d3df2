namespace Lguest.Devices;

/// <summary>The type field of a block request header (struct virtio_blk_req), virtio 1.2 §5.2.6.</summary>
public static class VirtioBlockRequestType
{
    /// <summary>VIRTIO_BLK_T_IN (0): read sectors into the device-writable buffers.</summary>
    public const uint In = 0;

    /// <summary>VIRTIO_BLK_T_OUT (1): write the device-readable data to sectors.</summary>
    public const uint Out = 1;

    /// <summary>VIRTIO_BLK_T_FLUSH (4): make every completed write durable.</summary>
    public const uint Flush = 4;

    /// <summary>VIRTIO_BLK_T_GET_ID (8): the device ID string, 20 bytes, NUL-padded.</summary>
    public const uint GetId = 8;

    /// <summary>VIRTIO_BLK_T_GET_LIFETIME (10): flash wear estimates; not supported here.</summary>
    public const uint GetLifetime = 10;

    /// <summary>VIRTIO_BLK_T_DISCARD (11): deallocate ranges (a hole punched in the image) when VIRTIO_BLK_F_DISCARD is negotiated.</summary>
    public const uint Discard = 11;

    /// <summary>VIRTIO_BLK_T_WRITE_ZEROES (13): zero ranges of the image when VIRTIO_BLK_F_WRITE_ZEROES is negotiated.</summary>
    public const uint WriteZeroes = 13;

    /// <summary>VIRTIO_BLK_T_SECURE_ERASE (14): not supported here.</summary>
    public const uint SecureErase = 14;
}
