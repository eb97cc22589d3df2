using Lguest.Boot;
using Lguest.Memory;
using Lguest.Pci;

namespace Lguest.Machine;

/// <summary>
/// The machine a backend runs, decided in one place: the guest memory layout, how memory is mapped, the boot
/// platform the kernel is loaded for, the platform's own devices and firmware tables, and how PCI interrupt
/// pins are wired. KVM runs the <see cref="Pc"/> (a PC with ACPI, a UART, CMOS); /dev/lguest runs the
/// <see cref="Lguest"/> machine of the lguest launcher (RAM from 0, device pages above it, the PCI host bridge
/// and virtio devices, no firmware). Each backend's registration (<c>AddKvm</c>, <c>AddDevLguest</c>) adds its
/// profile to the container, and the <see cref="Launcher"/> builds every boot from it.
/// </summary>
/// <remarks>
/// A closed set: the profiles wire internal launcher state (the serial console, the power inputs), so only
/// Lguest.Core defines them.
/// </remarks>
public abstract class MachineProfile
{
    private protected MachineProfile()
    {
    }

    /// <summary>The PC that KVM runs.</summary>
    public static MachineProfile Pc { get; } = new PcMachineProfile();

    /// <summary>The lguest machine that /dev/lguest runs.</summary>
    public static MachineProfile Lguest { get; } = new LguestMachineProfile();

    /// <summary>A short name for messages ("pc", "lguest").</summary>
    public abstract string Name { get; }

    /// <summary>The platform the kernel is loaded for (boot structures' places, hardware_subarch, entry).</summary>
    public abstract BootPlatform BootPlatform { get; }

    /// <summary>The most vCPUs the machine can have.</summary>
    public abstract int MaxCpus { get; }

    /// <summary>
    /// Whether the machine has a UART the guest can use as its console: then <see cref="LauncherOptions.ConsoleInput"/>
    /// and <see cref="LauncherOptions.ConsoleOutput"/> are its host side. Without one, a console is a virtio device.
    /// </summary>
    public abstract bool HasSerialConsole { get; }

    /// <summary>Whether the machine has an ACPI power button (<see cref="Launcher.RequestShutdown"/>).</summary>
    public virtual bool HasPowerButton => false;

    /// <summary>The GSIs PCI slots 1, 2, 3... are wired to, in turn (see <see cref="PciBusOptions.InterruptLines"/>).</summary>
    public abstract IReadOnlyList<int> PciInterruptLines { get; }

    /// <summary>The guest memory layout for <paramref name="ramBytes"/> of RAM.</summary>
    public abstract GuestMemoryLayout CreateLayout(ulong ramBytes);

    /// <inheritdoc />
    public override string ToString() => Name;

    /// <summary>Maps fresh guest memory for one boot.</summary>
    internal virtual GuestMemory Allocate(GuestMemoryLayout layout) => GuestMemory.Allocate(layout);

    /// <summary>Adds the platform's own devices to a new boot, before the device factories run.</summary>
    internal abstract void AddPlatformDevices(PlatformContext context);

    /// <summary>Writes firmware tables once every device exists; returns the ACPI RSDP, or null for none.</summary>
    internal abstract GuestAddress? WriteFirmwareTables(PlatformContext context);
}
