namespace Lguest.Virtio;

/// <summary>The cfg_type of a virtio vendor-specific PCI capability (virtio 1.2 §4.1.4).</summary>
public enum VirtioPciCapabilityType : byte
{
    /// <summary>VIRTIO_PCI_CAP_COMMON_CFG: struct virtio_pci_common_cfg.</summary>
    CommonConfiguration = 1,

    /// <summary>VIRTIO_PCI_CAP_NOTIFY_CFG: the notification area, with notify_off_multiplier.</summary>
    NotifyConfiguration = 2,

    /// <summary>VIRTIO_PCI_CAP_ISR_CFG: the ISR status byte.</summary>
    IsrConfiguration = 3,

    /// <summary>VIRTIO_PCI_CAP_DEVICE_CFG: the device-specific configuration.</summary>
    DeviceConfiguration = 4,

    /// <summary>VIRTIO_PCI_CAP_PCI_CFG: a window into the BARs through configuration space.</summary>
    PciConfiguration = 5,
}
