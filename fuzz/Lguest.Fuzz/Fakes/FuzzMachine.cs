using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Fuzz.Fakes;

/// <summary>
/// A guest without vCPUs for the register-level targets: real guest memory, interrupt lines that count,
/// notify-event registrations accepted (as KVM's ioeventfd) or refused (as /dev/lguest), and MSI routes
/// offered (as KVM) or not (as /dev/lguest), as the input says.
/// </summary>
internal sealed class FuzzMachine(GuestMemory memory, bool acceptsNotifyEvents, bool offersMsiRoutes = false) : IVirtualMachine
{
    private readonly Dictionary<int, FuzzInterruptLine> _lines = [];
    private readonly List<FuzzMsiRoute> _msiRoutes = [];

    /// <summary>MSI routes handed out and not yet disposed: each must be gone once the transport is disposed.</summary>
    public int LiveMsiRoutes => _msiRoutes.Count(route => !route.IsDisposed);

    /// <summary>Whether any INTx line is raised (with MSI-X enabled, a queue interrupt must not raise one).</summary>
    public bool AnyLineAsserted => _lines.Values.Any(line => line.Asserted);

    public GuestMemory Memory { get; } = memory;

    /// <summary>Registrations not yet disposed: each must be gone once the transport is disposed.</summary>
    public int LiveNotifyEvents { get; private set; }

    public IVcpu CreateVcpu(int index, BootState? boot) =>
        throw new InvalidOperationException("the fuzz machine has no vCPUs; the target drives the buses directly");

    public IInterruptLine GetInterruptLine(int gsi)
    {
        if (!_lines.TryGetValue(gsi, out FuzzInterruptLine? line))
            _lines[gsi] = line = new FuzzInterruptLine(gsi);
        return line;
    }

    public bool TryRegisterNotifyEvent(GuestAddress address, int width, EventNotifier notifier, out IDisposable? registration)
    {
        if (!acceptsNotifyEvents)
        {
            registration = null;
            return false;
        }
        LiveNotifyEvents++;
        registration = new Registration(this);
        return true;
    }

    public bool TryCreateMsiRoute(out IMsiRoute? route)
    {
        if (!offersMsiRoutes)
        {
            route = null;
            return false;
        }
        var created = new FuzzMsiRoute();
        _msiRoutes.Add(created);
        route = created;
        return true;
    }

    /// <summary>The memory belongs to the target, which reuses it across inputs.</summary>
    public void Dispose()
    {
    }

    private sealed class Registration(FuzzMachine machine) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed)
                return;
            _disposed = true;
            machine.LiveNotifyEvents--;
        }
    }
}
