using Lguest.Memory;

namespace Lguest.Virtio;

/// <summary>
/// Makes one device for one guest. Registered through DI, one per added device
/// (<c>services.AddSingleton&lt;IVirtioDeviceFactory&gt;(...)</c>); the launcher calls the factories in
/// registration order, which is the order of the devices' PCI slots.
/// </summary>
public interface IVirtioDeviceFactory
{
    /// <summary>Creates the device for the guest whose RAM is <paramref name="memory"/>.</summary>
    /// <exception cref="LguestException">A host resource the device needs cannot be opened (a disk image).</exception>
    IVirtioDevice Create(GuestMemory memory);
}
