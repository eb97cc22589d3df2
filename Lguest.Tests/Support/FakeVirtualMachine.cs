using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Tests.Support;

/// <summary>
/// An <see cref="IVirtualMachine"/> with real guest memory, recording interrupt lines, and notify-event
/// registrations it records (as KVM's ioeventfd would accept them) or refuses (as /dev/lguest does), and,
/// when asked to, MSI routes it records (as KVM's GSI routing would; by default none, as /dev/lguest).
/// It has no vCPUs: tests drive the buses directly, as a vCPU's exits would.
/// </summary>
internal sealed class FakeVirtualMachine : IVirtualMachine
{
    private readonly Dictionary<int, RecordingInterruptLine> _lines = [];

    public FakeVirtualMachine(GuestMemoryLayout layout, bool acceptsNotifyEvents = true, int msiRoutes = 0)
    {
        Memory = GuestMemory.Allocate(layout);
        AcceptsNotifyEvents = acceptsNotifyEvents;
        MsiRouteLimit = msiRoutes;
    }

    /// <summary>How many MSI routes the machine hands out before it refuses (0: none, as /dev/lguest).</summary>
    public int MsiRouteLimit { get; set; }

    /// <summary>The MSI routes handed out, in order.</summary>
    public List<RecordingMsiRoute> MsiRoutes { get; } = [];

    public bool TryCreateMsiRoute(out IMsiRoute? route)
    {
        lock (MsiRoutes)
        {
            if (MsiRoutes.Count >= MsiRouteLimit)
            {
                route = null;
                return false;
            }
            var created = new RecordingMsiRoute();
            MsiRoutes.Add(created);
            route = created;
            return true;
        }
    }

    public GuestMemory Memory { get; }

    public bool AcceptsNotifyEvents { get; set; }

    /// <summary>The notify events registered and not yet disposed.</summary>
    public List<NotifyRegistration> NotifyEvents { get; } = [];

    public IReadOnlyDictionary<int, RecordingInterruptLine> Lines => _lines;

    public RecordingInterruptLine Line(int gsi) => (RecordingInterruptLine)GetInterruptLine(gsi);

    public IInterruptLine GetInterruptLine(int gsi)
    {
        lock (_lines)
        {
            if (!_lines.TryGetValue(gsi, out RecordingInterruptLine? line))
                _lines[gsi] = line = new RecordingInterruptLine(gsi);
            return line;
        }
    }

    public IVcpu CreateVcpu(int index, BootState? boot) =>
        throw new InvalidOperationException("the fake machine has no vCPUs; tests drive the buses directly");

    public bool TryRegisterNotifyEvent(GuestAddress address, int width, EventNotifier notifier, out IDisposable? registration)
    {
        if (!AcceptsNotifyEvents)
        {
            registration = null;
            return false;
        }
        var r = new NotifyRegistration(this, address, width, notifier);
        lock (NotifyEvents)
            NotifyEvents.Add(r);
        registration = r;
        return true;
    }

    public void Dispose() => Memory.Dispose();

    public sealed record NotifyRegistration(FakeVirtualMachine Owner, GuestAddress Address, int Width, EventNotifier Notifier) : IDisposable
    {
        public void Dispose()
        {
            lock (Owner.NotifyEvents)
                Owner.NotifyEvents.Remove(this);
        }
    }
}
