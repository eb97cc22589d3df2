namespace Lguest.Pci;

/// <summary>One MSI-X table entry as software programmed it (PCI Local Bus 3.0 §6.8.2.6-9).</summary>
/// <param name="Address">Message address (dword-aligned).</param>
/// <param name="Data">Message data.</param>
/// <param name="VectorControl">Vector control: bit 0 masks the vector.</param>
public readonly record struct MsixEntryState(ulong Address, uint Data, uint VectorControl);
