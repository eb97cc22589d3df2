using Lguest.Hypervisor;

namespace Lguest.Kvm;

/// <summary>
/// One GSI of a KVM VM. Levels go through KVM_IRQ_LINE; pulses through an eventfd registered with
/// KVM_IRQFD, so a device worker raises an edge with one write and no ioctl, never involving a
/// vCPU thread.
/// </summary>
internal sealed class KvmInterruptLine : IInterruptLine, IDisposable
{
    private readonly KvmVirtualMachine _vm;
    private readonly Lock _irqfdLock = new();
    private EventNotifier? _irqfd;
    private bool _disposed;

    public KvmInterruptLine(KvmVirtualMachine vm, int gsi)
    {
        _vm = vm;
        Number = gsi;
    }

    public int Number { get; }

    public void Assert() => _vm.SetIrqLine(Number, true);

    public void Deassert() => _vm.SetIrqLine(Number, false);

    public void Pulse()
    {
        EventNotifier? irqfd = Volatile.Read(ref _irqfd) ?? CreateIrqfd();
        if (irqfd is null)
        {
            _vm.SetIrqLine(Number, true);
            _vm.SetIrqLine(Number, false);
        }
        else
        {
            irqfd.Signal();
        }
    }

    public void Dispose()
    {
        lock (_irqfdLock)
        {
            _disposed = true;
            // The VM fd closes after this, which releases the irqfd binding in the kernel.
            _irqfd?.Dispose();
            _irqfd = null;
        }
    }

    private EventNotifier? CreateIrqfd()
    {
        lock (_irqfdLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_irqfd is not null)
                return _irqfd;
            if (!_vm.Kvm.HasIrqfd)
                return null;
            EventNotifier notifier = _vm.BindIrqfd((uint)Number, "INTx pulse");
            Volatile.Write(ref _irqfd, notifier);
            return notifier;
        }
    }
}
