using Lguest.Hypervisor;

namespace Lguest.Kvm;

/// <summary>
/// One MSI of a KVM VM: a GSI above the PC's (see <see cref="KvmVirtualMachine.PcInterruptRouting"/>) whose
/// routing entry is the message (KVM_IRQ_ROUTING_MSI), and an eventfd bound to it with KVM_IRQFD. Signalling
/// is one eventfd write: the kernel injects the message from the eventfd's wake-up, no ioctl and no vCPU.
/// </summary>
internal sealed class KvmMsiRoute : IMsiRoute
{
    private readonly KvmVirtualMachine _vm;
    private readonly Lock _lock = new();
    private EventNotifier? _irqfd;
    private bool _disposed;

    public KvmMsiRoute(KvmVirtualMachine vm, uint gsi)
    {
        _vm = vm;
        Gsi = gsi;
    }

    /// <summary>The GSI the message is routed through.</summary>
    public uint Gsi { get; }

    /// <summary>Whether the eventfd is bound (after the first <see cref="Update"/>).</summary>
    public bool IsBound => Volatile.Read(ref _irqfd) is not null;

    public void Update(ulong address, uint data)
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _vm.SetMsiRoute(Gsi, address, data);
            if (_irqfd is not null)
                return;
            // Bound after the routing entry exists, so the kernel resolves the GSI to the message at once.
            EventNotifier notifier = _vm.BindIrqfd(Gsi, "MSI");
            Volatile.Write(ref _irqfd, notifier);
        }
    }

    public void Signal() => Volatile.Read(ref _irqfd)?.Signal();

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            EventNotifier? irqfd = _irqfd;
            _irqfd = null;
            if (irqfd is not null)
            {
                _vm.UnbindIrqfd(irqfd, Gsi);
                irqfd.Dispose();
            }
            _vm.RemoveMsiRoute(Gsi);
        }
    }
}
