using Lguest.Hypervisor;

namespace Lguest.DevLguest;

/// <summary>
/// One guest interrupt as /dev/lguest offers it: LHREQ_IRQ marks the interrupt pending in the Host, which
/// delivers it when the guest can take it and clears it on delivery. There is no line level to hold, so an
/// assertion and a pulse both raise the interrupt once, and a deassertion has nothing to lower.
/// </summary>
/// <remarks>
/// This is edge delivery: a level source still high after the guest's handler ran gets no second
/// interrupt. PCI INTx through the virtio-pci ISR fits it, as in the seed: the guest's read of the ISR
/// lowers the line, and the device's next event is a new rising edge, hence a new LHREQ_IRQ.
/// </remarks>
internal sealed class LguestInterruptLine(LguestVirtualMachine machine, int number) : IInterruptLine
{
    public int Number => number;

    public void Assert() => machine.RaiseInterrupt(number);

    public void Deassert()
    {
        // Nothing to lower: the Host forgets an interrupt once it has delivered it.
    }

    public void Pulse() => machine.RaiseInterrupt(number);
}
