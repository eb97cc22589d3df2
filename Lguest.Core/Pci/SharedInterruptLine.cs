using Lguest.Hypervisor;

namespace Lguest.Pci;

/// <summary>
/// One interrupt input wired to several INTx# pins, as PCI allows: the line is high while any device
/// drives it (a wired OR). Each device gets its own <see cref="IInterruptLine"/> view, so one device
/// lowering its pin cannot lower the line under another that still wants service.
/// </summary>
internal sealed class SharedInterruptLine(IInterruptLine line)
{
    private readonly Lock _lock = new();
    private int _asserted;

    public IInterruptLine CreatePin() => new Pin(this);

    private void Drive(Pin pin, bool asserted)
    {
        lock (_lock)
        {
            if (pin.Asserted == asserted)
                return;
            pin.Asserted = asserted;
            _asserted += asserted ? 1 : -1;
            if (asserted && _asserted == 1)
                line.Assert();
            else if (!asserted && _asserted == 0)
                line.Deassert();
        }
    }

    private void Pulse(Pin pin)
    {
        lock (_lock)
        {
            // An edge is only visible when nobody holds the line high.
            if (_asserted == 0 && !pin.Asserted)
                line.Pulse();
        }
    }

    private sealed class Pin(SharedInterruptLine owner) : IInterruptLine
    {
        public bool Asserted { get; set; }

        public int Number => owner.Number;

        public void Assert() => owner.Drive(this, true);

        public void Deassert() => owner.Drive(this, false);

        public void Pulse() => owner.Pulse(this);
    }

    private int Number => line.Number;
}
