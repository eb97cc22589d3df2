using Lguest.Memory;

namespace Lguest.Hypervisor;

/// <summary>A way to run guests: KVM, or the historical /dev/lguest.</summary>
public interface IHypervisor
{
    /// <summary>A short name for messages ("kvm", "lguest").</summary>
    string Name { get; }

    /// <summary>Creates a guest over <paramref name="memory"/>. Guest accesses outside RAM go to the two buses.</summary>
    IVirtualMachine CreateVirtualMachine(GuestMemory memory, IoBus portBus, IoBus mmioBus);
}
