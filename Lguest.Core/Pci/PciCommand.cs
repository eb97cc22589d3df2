namespace Lguest.Pci;

/// <summary>Bits of the command register (PCI_COMMAND, PCI Local Bus 3.0 §6.2.2) that software may set here.</summary>
[Flags]
public enum PciCommand : ushort
{
    /// <summary>No bit set: the device decodes nothing (its state at power-on).</summary>
    None = 0,

    /// <summary>PCI_COMMAND_IO: respond to I/O space accesses.</summary>
    IoSpace = 0x1,

    /// <summary>PCI_COMMAND_MEMORY: respond to memory space accesses (the BARs decode only while set).</summary>
    MemorySpace = 0x2,

    /// <summary>PCI_COMMAND_MASTER: the device may master the bus (DMA). Kept for software; virtio DMA is not gated.</summary>
    BusMaster = 0x4,

    /// <summary>PCI_COMMAND_PARITY: parity error response. Stored only.</summary>
    ParityErrorResponse = 0x40,

    /// <summary>PCI_COMMAND_SERR: SERR# enable. Stored only.</summary>
    SErrEnable = 0x100,

    /// <summary>PCI_COMMAND_INTX_DISABLE: the device must not assert INTx#.</summary>
    InterruptDisable = 0x400,
}
