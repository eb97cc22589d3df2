using Lguest.Hypervisor;

namespace Lguest.Tests.Support;

/// <summary>An <see cref="IInterruptLine"/> that keeps its level and counts edges, as an interrupt controller input would.</summary>
internal sealed class RecordingInterruptLine(int number) : IInterruptLine
{
    private readonly Lock _lock = new();

    public int Number => number;

    /// <summary>Whether the line is high now.</summary>
    public bool IsAsserted { get; private set; }

    /// <summary>Rising edges seen: each Assert from low, and each Pulse.</summary>
    public int RisingEdges { get; private set; }

    public void Assert()
    {
        lock (_lock)
        {
            if (!IsAsserted)
                RisingEdges++;
            IsAsserted = true;
        }
    }

    public void Deassert()
    {
        lock (_lock)
            IsAsserted = false;
    }

    public void Pulse()
    {
        lock (_lock)
            RisingEdges++;
    }
}
