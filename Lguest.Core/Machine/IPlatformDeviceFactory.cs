namespace Lguest.Machine;

/// <summary>
/// Adds devices to each boot of the machine (a virtio device on the PCI bus, an extra UART). Called
/// once per boot, in registration order, after the built-in PC devices exist and before the ACPI
/// tables are written and the kernel is loaded.
/// </summary>
public interface IPlatformDeviceFactory
{
    /// <summary>Creates this factory's devices for the boot described by <paramref name="context"/>.</summary>
    void Create(PlatformContext context);
}
