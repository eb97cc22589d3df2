using Lguest.Boot;
using Lguest.DevLguest;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Platform;

namespace Lguest.Machine;

/// <summary>
/// The lguest launcher's machine (seed 002, Linux 4.x tools/lguest): RAM from guest-physical 0 with 256 device
/// pages right above it, one vCPU, the PCI host bridge on 0xCF8-0xCFF with the virtio devices, the 8042 status
/// port reading 1, and nothing else: no firmware tables, no UART, CMOS or power registers (the guest powers off
/// and reboots through hypercalls, which the Host turns into the end of the run). The kernel is loaded for the
/// lguest platform (hardware_subarch 1, zero page at 0, 32-bit entry).
/// </summary>
/// <remarks>
/// The seed gave device n (the console is 1) interrupt n, and the lguest guest takes PCI_INTERRUPT_LINE as the
/// interrupt number itself (lguest_enable_irq): slot n is wired to interrupt n here, never shared. Interrupt 0
/// is the guest's timer.
/// </remarks>
internal sealed class LguestMachineProfile : MachineProfile
{
    /// <summary>Interrupts 1 to 31: one per PCI slot, as the seed's next_irq counted them from 1.</summary>
    private static readonly int[] SlotInterrupts = Enumerable.Range(1, PciBus.SlotCount - 1).ToArray();

    public override string Name => "lguest";

    public override BootPlatform BootPlatform => BootPlatform.Lguest;

    public override int MaxCpus => 1;

    public override bool HasSerialConsole => false;

    public override IReadOnlyList<int> PciInterruptLines => SlotInterrupts;

    public override GuestMemoryLayout CreateLayout(ulong ramBytes) => LguestHypervisor.CreateLayout(ramBytes);

    /// <summary>
    /// /dev/lguest takes the mapping's address in a 32-bit word (the Host was i386-only), so a 64-bit process maps
    /// guest memory in the low 2 GiB (MAP_32BIT); a 32-bit process has nothing else.
    /// </summary>
    internal override GuestMemory Allocate(GuestMemoryLayout layout) => GuestMemory.AllocateBelow2GiB(layout);

    internal override void AddPlatformDevices(PlatformContext context)
    {
        context.PortBus.Register(I8042StatusPort.Port, I8042StatusPort.PortCount, new I8042StatusPort());
        context.PortBus.Register(PciHostBridge.PortBase, PciHostBridge.PortCount, context.PciBus.HostBridge);
    }

    internal override GuestAddress? WriteFirmwareTables(PlatformContext context) => null;
}
