namespace Lguest.Virtio;

/// <summary>The device status field (virtio 1.2 §2.1), as the driver writes and reads it.</summary>
[Flags]
public enum VirtioDeviceStatus : byte
{
    /// <summary>Reset (written by the driver) or the initial state.</summary>
    None = 0,

    /// <summary>ACKNOWLEDGE: the guest OS has found the device.</summary>
    Acknowledge = 1,

    /// <summary>DRIVER: the guest OS knows how to drive the device.</summary>
    Driver = 2,

    /// <summary>DRIVER_OK: the driver is set up and ready; the device is live.</summary>
    DriverOk = 4,

    /// <summary>FEATURES_OK: feature negotiation is complete (cleared by the device on refusal).</summary>
    FeaturesOk = 8,

    /// <summary>DEVICE_NEEDS_RESET: the device hit an error it cannot recover from without a reset.</summary>
    DeviceNeedsReset = 0x40,

    /// <summary>FAILED: the driver gave up on the device.</summary>
    Failed = 0x80,
}
