namespace Lguest.Hypervisor;

/// <summary>
/// One interrupt input of the guest's interrupt controller (a GSI: ISA IRQ or IOAPIC pin), as a
/// device sees it. Backends implement it without a vCPU round-trip (KVM: irqfd or KVM_IRQ_LINE;
/// /dev/lguest: LHREQ_IRQ). Safe to call from any thread.
/// </summary>
public interface IInterruptLine
{
    /// <summary>The line's number (GSI).</summary>
    int Number { get; }

    /// <summary>Raises the line and leaves it raised (level-triggered sources: UART, PCI INTx).</summary>
    void Assert();

    /// <summary>Lowers the line.</summary>
    void Deassert();

    /// <summary>Raises and lowers the line: one edge, one interrupt (a virtqueue's used-buffer notification).</summary>
    void Pulse();
}
