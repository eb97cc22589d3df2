namespace Lguest.Pci;

/// <summary>The VMM's PCI configuration cannot be built: no free slot, or the MMIO window is too small for the BARs.</summary>
public sealed class PciException : LguestException
{
    internal PciException(string message) : base(message) { }
}
