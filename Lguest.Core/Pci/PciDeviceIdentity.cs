namespace Lguest.Pci;

/// <summary>The read-only identification registers of a function's configuration header.</summary>
/// <param name="VendorId">PCI_VENDOR_ID.</param>
/// <param name="DeviceId">PCI_DEVICE_ID.</param>
/// <param name="ClassCode">The 24-bit class code: base class &lt;&lt; 16 | sub-class &lt;&lt; 8 | programming interface.</param>
/// <param name="RevisionId">PCI_REVISION_ID.</param>
/// <param name="SubsystemVendorId">PCI_SUBSYSTEM_VENDOR_ID.</param>
/// <param name="SubsystemId">PCI_SUBSYSTEM_ID.</param>
public readonly record struct PciDeviceIdentity(
    ushort VendorId,
    ushort DeviceId,
    uint ClassCode,
    byte RevisionId = 0,
    ushort SubsystemVendorId = 0,
    ushort SubsystemId = 0);
