namespace Lguest.Virtio;

/// <summary>
/// Field offsets of struct virtio_pci_common_cfg (virtio 1.2 §4.1.4.3), the common configuration the
/// transport serves at the start of its BAR. Each field is accessed at its own width; a 64-bit field
/// also as two 32-bit halves (§4.1.3.1).
/// </summary>
public static class VirtioPciCommonConfig
{
    /// <summary>device_feature_select (le32, RW): which 32 feature bits device_feature shows.</summary>
    public const int DeviceFeatureSelect = 0x00;

    /// <summary>device_feature (le32, RO): the offered feature bits of the selected dword.</summary>
    public const int DeviceFeature = 0x04;

    /// <summary>driver_feature_select (le32, RW).</summary>
    public const int DriverFeatureSelect = 0x08;

    /// <summary>driver_feature (le32, RW): the accepted feature bits of the selected dword.</summary>
    public const int DriverFeature = 0x0c;

    /// <summary>config_msix_vector (le16, RW): the MSI-X vector of configuration changes; NO_VECTOR if refused or none.</summary>
    public const int ConfigMsixVector = 0x10;

    /// <summary>num_queues (le16, RO).</summary>
    public const int NumQueues = 0x12;

    /// <summary>device_status (u8, RW).</summary>
    public const int DeviceStatus = 0x14;

    /// <summary>config_generation (u8, RO).</summary>
    public const int ConfigGeneration = 0x15;

    /// <summary>queue_select (le16, RW): the queue the fields below describe.</summary>
    public const int QueueSelect = 0x16;

    /// <summary>queue_size (le16, RW): the maximum on reset; the driver may lower it to another power of two.</summary>
    public const int QueueSize = 0x18;

    /// <summary>queue_msix_vector (le16, RW): the selected queue's MSI-X vector; NO_VECTOR if refused or none.</summary>
    public const int QueueMsixVector = 0x1a;

    /// <summary>queue_enable (le16, RW): the driver writes 1 once the queue is set up.</summary>
    public const int QueueEnable = 0x1c;

    /// <summary>queue_notify_off (le16, RO): the queue's slot in the notification area.</summary>
    public const int QueueNotifyOff = 0x1e;

    /// <summary>queue_desc (le64, RW): the descriptor table's guest-physical address.</summary>
    public const int QueueDesc = 0x20;

    /// <summary>queue_driver (le64, RW): the driver (available) ring's address.</summary>
    public const int QueueDriver = 0x28;

    /// <summary>queue_device (le64, RW): the device (used) ring's address.</summary>
    public const int QueueDevice = 0x30;

    /// <summary>The structure's size without the fields of features not offered here (queue_notify_data, queue_reset).</summary>
    public const int Size = 0x38;

    /// <summary>VIRTIO_MSI_NO_VECTOR: no interrupt; what the MSI-X vector fields read without MSI-X or after a refused mapping.</summary>
    public const ushort NoVector = 0xffff;

    /// <summary>VIRTIO_PCI_ISR_QUEUE: ISR bit 0, a used-buffer notification.</summary>
    public const byte IsrQueue = 0x1;

    /// <summary>VIRTIO_PCI_ISR_CONFIG: ISR bit 1, a configuration change notification.</summary>
    public const byte IsrConfig = 0x2;
}
