namespace Lguest.Kvm;

/// <summary>An ioeventfd registered with KVM; disposing it removes the registration.</summary>
internal sealed class KvmIoeventfdRegistration(KvmVirtualMachine vm, KvmIoeventfd request) : IDisposable
{
    private int _disposed;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            vm.Deassign(request);
    }
}
