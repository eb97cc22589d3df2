namespace Lguest.Pci;

/// <summary>What a base address register decodes.</summary>
public enum PciBarKind
{
    /// <summary>A 32-bit memory BAR: one register, placed below 4 GiB.</summary>
    Memory32,

    /// <summary>A 64-bit memory BAR: this register and the next hold the address.</summary>
    Memory64,
}
