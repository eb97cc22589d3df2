namespace Lguest.Devices;

/// <summary>Why the network device dropped a frame or refused a chain; each reason has its own counter.</summary>
public enum VirtioNetDrop
{
    /// <summary>A transmit chain shorter than the 12-byte header plus an Ethernet header.</summary>
    TransmitTooShort,

    /// <summary>A transmit chain longer than the largest frame (65550 bytes) plus its header.</summary>
    TransmitTooLong,

    /// <summary>A transmit chain with device-writable buffers (virtio 1.2 §5.1.6.2: the driver MUST NOT).</summary>
    TransmitWritableBuffer,

    /// <summary>A transmit chain of more buffers than one writev takes.</summary>
    TransmitTooManyBuffers,

    /// <summary>A transmit header asking for a checksum or segmentation offload that was not negotiated, or of an unknown type.</summary>
    TransmitOffloadRefused,

    /// <summary>The tap refused a frame (the host kernel found its header or its content invalid).</summary>
    TransmitHostRefused,

    /// <summary>A received frame larger than the buffers the driver posted: the tap delivered it cut, and it was not passed on.</summary>
    ReceiveTruncated,

    /// <summary>A receive chain with device-readable buffers or too small for the header, returned unused (used length 0).</summary>
    ReceiveChainRefused,
}
