namespace Lguest.Hypervisor;

/// <summary>
/// One message-signalled interrupt source (a PCI MSI-X vector) as the backend delivers it: the message
/// (address, data) the guest programmed, and a way to send it without a vCPU round-trip (KVM: an irqfd
/// bound to a GSI whose routing entry is the message). Created by
/// <see cref="IVirtualMachine.TryCreateMsiRoute"/>; dispose it when the device goes away.
/// </summary>
public interface IMsiRoute : IDisposable
{
    /// <summary>
    /// Points the route at a new message. Costs a reprogramming of the backend (KVM: KVM_SET_GSI_ROUTING),
    /// so call it when the guest changes the message, never per interrupt. Safe from any thread.
    /// </summary>
    /// <param name="address">The message address (x86: 0xFEEx_xxxx, the local APIC's window; the high half for x2APIC IDs).</param>
    /// <param name="data">The message data (x86: vector, delivery mode, trigger mode).</param>
    void Update(ulong address, uint data);

    /// <summary>
    /// Sends the message last given to <see cref="Update"/>; nothing before the first update. Cheap and safe
    /// from any thread (a device worker): KVM writes an eventfd, no ioctl, no vCPU involvement.
    /// </summary>
    void Signal();
}
