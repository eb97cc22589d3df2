using Lguest.Boot;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Platform;

namespace Lguest.Machine;

/// <summary>
/// The PC that KVM runs: RAM with an MMIO hole below 4 GiB, COM1, the ACPI power registers and tables, the
/// reset register, the 8042's reset line, the CMOS clock, the POST port, and PCI INTx# on ISA IRQs 5, 9, 10
/// and 11. KVM's in-kernel PIC, IOAPIC, local APICs and PIT supply the rest.
/// </summary>
internal sealed class PcMachineProfile : MachineProfile
{
    public override string Name => "pc";

    public override BootPlatform BootPlatform => BootPlatform.Pc;

    public override int MaxCpus => LauncherOptions.MaxCpus;

    public override bool HasSerialConsole => true;

    public override bool HasPowerButton => true;

    public override IReadOnlyList<int> PciInterruptLines => PciBusOptions.LegacyInterruptLines;

    public override GuestMemoryLayout CreateLayout(ulong ramBytes) => GuestMemoryLayout.WithMmioHole(ramBytes);

    internal override void AddPlatformDevices(PlatformContext context)
    {
        var uart = new Uart16550(context.Machine.GetInterruptLine(Uart16550.Com1Irq), context.ConsoleOutput);
        context.PortBus.Register(Uart16550.Com1Port, Uart16550.PortCount, uart);
        context.AttachSerialConsole(uart);
        context.AddSnapshotState("platform/uart", () => uart.CaptureState().Encode(), d => uart.RestoreState(UartState.Decode(d)));
        context.PortBus.Register(PostCodePort.Port, 1, new PostCodePort());
        context.PortBus.Register(I8042Controller.DataPort, I8042Controller.PortCount, new I8042Controller(context.Power));
        var pm = new AcpiPmRegisters(context.Power, context.PciBus.CreateSharedPin(AcpiTables.SciInterrupt));
        context.PortBus.Register(AcpiPmRegisters.EventBlockPort, AcpiPmRegisters.PortCount, pm);
        context.PowerButton = pm.PressPowerButton;
        context.AddSnapshotState("platform/acpi-pm", () => pm.CaptureState().Encode(), d => pm.RestoreState(AcpiPmState.Decode(d)));
        GuestMemoryLayout layout = context.Memory.Layout;
        ulong below4G = 0;
        foreach (GuestMemoryRegion region in layout.Regions)
            below4G += region.Start.Value < GuestMemoryLayout.FourGiB ? region.Size : 0;
        var rtc = new CmosRtc(below4G, layout.TotalSize - below4G, context.CpuCount);
        context.PortBus.Register(CmosRtc.IndexPort, CmosRtc.PortCount, rtc);
        context.AddSnapshotState("platform/rtc", () => rtc.CaptureState().Encode(), d => rtc.RestoreState(CmosRtcState.Decode(d)));
        // 0xCF9 lives inside the configuration ports: the host bridge hands it the narrow accesses there.
        context.PciBus.HostBridge.LegacyPorts = new ResetControlRegister(context.Power);
        context.PortBus.Register(PciHostBridge.PortBase, PciHostBridge.PortCount, context.PciBus.HostBridge);
    }

    internal override GuestAddress? WriteFirmwareTables(PlatformContext context)
    {
        IEnumerable<int> pciIrqs = context.PciBus.InterruptRoutes.Select(r => r.Gsi);
        return AcpiTables.Write(context.Memory, context.CpuCount, pciIrqs.Concat(PciInterruptLines), context.PciBus.MmioWindow);
    }
}
