namespace Lguest.Pci;

/// <summary>
/// Offsets of the registers of a type 0 (endpoint) configuration header, as Linux's pci_regs.h names them
/// (PCI Local Bus Specification 3.0, §6.1 and §6.2).
/// </summary>
public static class PciHeader
{
    /// <summary>The size of conventional PCI configuration space.</summary>
    public const int ConfigurationSize = 256;

    /// <summary>PCI_VENDOR_ID (16 bits, read-only).</summary>
    public const int VendorId = 0x00;

    /// <summary>PCI_DEVICE_ID (16 bits, read-only).</summary>
    public const int DeviceId = 0x02;

    /// <summary>PCI_COMMAND (16 bits); see <see cref="PciCommand"/>.</summary>
    public const int Command = 0x04;

    /// <summary>PCI_STATUS (16 bits); see <see cref="PciStatus"/>.</summary>
    public const int Status = 0x06;

    /// <summary>PCI_REVISION_ID (8 bits, read-only).</summary>
    public const int RevisionId = 0x08;

    /// <summary>PCI_CLASS_PROG: the programming interface, low byte of the 24-bit class code.</summary>
    public const int ClassProgrammingInterface = 0x09;

    /// <summary>PCI_CLASS_DEVICE: sub-class (0x0a) and base class (0x0b).</summary>
    public const int ClassDevice = 0x0a;

    /// <summary>PCI_CACHE_LINE_SIZE (8 bits, read-write scratch for software).</summary>
    public const int CacheLineSize = 0x0c;

    /// <summary>PCI_LATENCY_TIMER (8 bits; hardwired to 0 here, as on PCI Express).</summary>
    public const int LatencyTimer = 0x0d;

    /// <summary>PCI_HEADER_TYPE (8 bits): 0 for an endpoint; bit 7 for multi-function.</summary>
    public const int HeaderType = 0x0e;

    /// <summary>PCI_BIST (8 bits; 0: no built-in self test).</summary>
    public const int Bist = 0x0f;

    /// <summary>PCI_BASE_ADDRESS_0: the first of six 32-bit base address registers.</summary>
    public const int BaseAddress0 = 0x10;

    /// <summary>The number of base address registers in a type 0 header (PCI_STD_NUM_BARS).</summary>
    public const int BarCount = 6;

    /// <summary>PCI_CARDBUS_CIS (32 bits, 0 here).</summary>
    public const int CardbusCis = 0x28;

    /// <summary>PCI_SUBSYSTEM_VENDOR_ID (16 bits, read-only).</summary>
    public const int SubsystemVendorId = 0x2c;

    /// <summary>PCI_SUBSYSTEM_ID (16 bits, read-only).</summary>
    public const int SubsystemId = 0x2e;

    /// <summary>PCI_ROM_ADDRESS (32 bits; no expansion ROM here, so it reads 0 and ignores writes).</summary>
    public const int RomAddress = 0x30;

    /// <summary>PCI_CAPABILITY_LIST (8 bits): offset of the first capability, valid when <see cref="PciStatus.CapabilityList"/> is set.</summary>
    public const int CapabilityList = 0x34;

    /// <summary>PCI_INTERRUPT_LINE (8 bits, read-write): written by firmware with the IRQ the pin is routed to.</summary>
    public const int InterruptLine = 0x3c;

    /// <summary>PCI_INTERRUPT_PIN (8 bits, read-only): 0 none, 1 INTA# .. 4 INTD#.</summary>
    public const int InterruptPin = 0x3d;

    /// <summary>PCI_MIN_GNT (8 bits, read-only).</summary>
    public const int MinGrant = 0x3e;

    /// <summary>PCI_MAX_LAT (8 bits, read-only).</summary>
    public const int MaxLatency = 0x3f;

    /// <summary>Where capabilities may start: the first byte after the standard header.</summary>
    public const int CapabilitiesStart = 0x40;

    /// <summary>PCI_BASE_ADDRESS_SPACE_IO: bit 0 of a BAR, set for an I/O BAR.</summary>
    public const uint BarSpaceIo = 0x1;

    /// <summary>PCI_BASE_ADDRESS_MEM_TYPE_64: bits 2:1 of a memory BAR, 64-bit (two registers).</summary>
    public const uint BarMemoryType64 = 0x4;

    /// <summary>PCI_BASE_ADDRESS_MEM_PREFETCH: bit 3 of a memory BAR.</summary>
    public const uint BarMemoryPrefetch = 0x8;

    /// <summary>PCI_BASE_ADDRESS_MEM_MASK: the address bits of a memory BAR's low register.</summary>
    public const uint BarMemoryMask = 0xffff_fff0;

    /// <summary>PCI_CAP_ID_VNDR: a vendor-specific capability (virtio's structures use it).</summary>
    public const byte CapabilityIdVendor = 0x09;

    /// <summary>PCI_CAP_ID_MSIX.</summary>
    public const byte CapabilityIdMsix = 0x11;
}
