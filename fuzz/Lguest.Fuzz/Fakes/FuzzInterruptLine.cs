using Lguest.Hypervisor;

namespace Lguest.Fuzz.Fakes;

/// <summary>An interrupt input that keeps its level and nothing else: the targets need a line, not its effects.</summary>
internal sealed class FuzzInterruptLine(int number) : IInterruptLine
{
    public int Number { get; } = number;

    public bool Asserted { get; private set; }

    public void Assert() => Asserted = true;

    public void Deassert() => Asserted = false;

    public void Pulse() => Asserted = false;
}
