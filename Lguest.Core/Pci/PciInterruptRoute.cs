namespace Lguest.Pci;

/// <summary>
/// Where one device's interrupt pin is wired: what an MP table's I/O interrupt entry or an ACPI _PRT
/// entry must say so the guest finds the interrupt without reading PCI_INTERRUPT_LINE. PCI INTx lines
/// here are level-triggered and active-high as the interrupt controller sees them (the line is raised
/// while the device wants service), and may be shared.
/// </summary>
/// <param name="Device">The device number on bus 0 (PCI slot).</param>
/// <param name="Pin">The pin: 1 INTA# .. 4 INTD#.</param>
/// <param name="Gsi">The global system interrupt: the ISA IRQ (0-15) or I/O APIC input it reaches.</param>
public readonly record struct PciInterruptRoute(int Device, int Pin, int Gsi);
