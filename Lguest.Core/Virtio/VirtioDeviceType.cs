namespace Lguest.Virtio;

/// <summary>Virtio device IDs (virtio 1.2 §5).</summary>
public enum VirtioDeviceType : ushort
{
    /// <summary>Network card (§5.1).</summary>
    Net = 1,

    /// <summary>Block device (§5.2).</summary>
    Block = 2,

    /// <summary>Console (§5.3).</summary>
    Console = 3,

    /// <summary>Entropy source (§5.4).</summary>
    Entropy = 4,

    /// <summary>Traditional memory balloon (§5.5).</summary>
    Balloon = 5,

    /// <summary>SCSI host (§5.6).</summary>
    Scsi = 8,

    /// <summary>9P transport.</summary>
    NinePTransport = 9,

    /// <summary>GPU (§5.7).</summary>
    Gpu = 16,

    /// <summary>Input (§5.8).</summary>
    Input = 18,

    /// <summary>Socket (§5.10).</summary>
    Vsock = 19,

    /// <summary>File system (§5.11).</summary>
    FileSystem = 26,
}
