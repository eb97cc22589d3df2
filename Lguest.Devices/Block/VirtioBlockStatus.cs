namespace Lguest.Devices;

/// <summary>The status byte the device writes at the end of each block request, virtio 1.2 §5.2.6.</summary>
public static class VirtioBlockStatus
{
    /// <summary>VIRTIO_BLK_S_OK (0): the request succeeded.</summary>
    public const byte Ok = 0;

    /// <summary>VIRTIO_BLK_S_IOERR (1): the request failed (a host error, or a malformed or out-of-range request).</summary>
    public const byte IoError = 1;

    /// <summary>VIRTIO_BLK_S_UNSUPP (2): the device does not support the request type.</summary>
    public const byte Unsupported = 2;
}
