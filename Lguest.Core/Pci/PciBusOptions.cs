namespace Lguest.Pci;

/// <summary>How a <see cref="PciBus"/> wires its devices.</summary>
public sealed class PciBusOptions
{
    /// <summary>
    /// The default INTx# routing: ISA IRQs 5, 9, 10 and 11, free on a PC (the serial ports take 3 and 4, the
    /// RTC 8, the PS/2 mouse 12, the IDE channels 14 and 15) and the ones QEMU's and SeaBIOS's PCI links
    /// use. An IRQ below 16 works on every interrupt path a Linux guest may take: the 8259 PIC alone with
    /// PCI_INTERRUPT_LINE read as the IRQ, ACPI without a _PRT ("no GSI - using ISA IRQ"), and an MP table
    /// or _PRT naming the same I/O APIC input. A fifth device shares 5 again, and so on: the bus ORs the
    /// levels of the devices on a line, so sharing stays correct as long as the controller is set to
    /// level-triggered for these inputs (which an MP table or ACPI entry does).
    /// </summary>
    public static IReadOnlyList<int> LegacyInterruptLines { get; } = [5, 9, 10, 11];

    /// <summary>
    /// The GSIs device slots 1, 2, 3... are wired to, in turn (slot n uses entry (n - 1) mod count); the
    /// host bridge in slot 0 has no interrupt. Default <see cref="LegacyInterruptLines"/>. The /dev/lguest
    /// backend, whose guest reads PCI_INTERRUPT_LINE as its IRQ number, may pass its own numbers.
    /// </summary>
    public IReadOnlyList<int> InterruptLines { get; init; } = LegacyInterruptLines;

    /// <summary>Throws <see cref="ArgumentException"/> naming a bad option.</summary>
    public void Validate()
    {
        if (InterruptLines is null || InterruptLines.Count == 0)
            throw new ArgumentException("the PCI bus needs at least one interrupt line", nameof(InterruptLines));
        foreach (int gsi in InterruptLines)
        {
            // PCI_INTERRUPT_LINE is one byte, and 255 means "unknown" to software.
            if (gsi is < 0 or > 254)
                throw new ArgumentException($"interrupt line {gsi} does not fit PCI_INTERRUPT_LINE", nameof(InterruptLines));
        }
    }
}
