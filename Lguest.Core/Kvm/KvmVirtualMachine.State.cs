using System.Runtime.InteropServices;
using Lguest.Hypervisor;
using Lguest.Interop;
using Lguest.Snapshot;

namespace Lguest.Kvm;

// Capture and restore of what KVM keeps for the whole VM: the two 8259 PICs and the IOAPIC (KVM_GET_IRQCHIP),
// the 8254 PIT (KVM_GET_PIT2) and the kvmclock (KVM_GET_CLOCK). The MSI routes are not saved: each is the
// message of an MSI-X vector, which the device's restored table programs again.
internal sealed unsafe partial class KvmVirtualMachine
{
    // Section names: part of the snapshot format (Lguest.Core/Snapshot/README.md).
    internal const string PicMasterSection = "pic-master", PicSlaveSection = "pic-slave", IoapicSection = "ioapic",
        Pit2Section = "pit2", ClockSection = "clock";

    public BackendState CaptureState()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Kvm.RequireSnapshotCapabilities();
        var sections = new List<BackendStateSection>();
        if (HasIrqchip)
        {
            sections.Add(new(PicMasterSection, Image(GetIrqchip(KvmIoctl.IrqchipPicMaster))));
            sections.Add(new(PicSlaveSection, Image(GetIrqchip(KvmIoctl.IrqchipPicSlave))));
            sections.Add(new(IoapicSection, Image(GetIrqchip(KvmIoctl.IrqchipIoapic))));
            KvmPitState2 pit;
            Check(Libc.Ioctl(_vm, KvmIoctl.GetPit2, &pit), "KVM_GET_PIT2");
            sections.Add(new(Pit2Section, Image(pit)));
        }
        KvmClockData clock;
        Check(Libc.Ioctl(_vm, KvmIoctl.GetClock, &clock), "KVM_GET_CLOCK");
        sections.Add(new(ClockSection, Image(clock)));
        return new BackendState(Kvm.Name, sections);
    }

    public void RestoreState(BackendState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Kvm.RequireSnapshotCapabilities();
        var reader = new KvmStateReader(state, Kvm.Name, "VM");
        bool hasIrqchip = reader.Optional(IoapicSection);
        if (hasIrqchip != HasIrqchip)
            throw new SnapshotException(SnapshotRefusal.Incompatible, hasIrqchip
                ? "the snapshot's VM had an in-kernel interrupt controller; this one has none"
                : "the snapshot's VM had no in-kernel interrupt controller; this one has one");
        KvmIrqchip master = default, slave = default, ioapic = default;
        KvmPitState2 pit = default;
        if (hasIrqchip)
        {
            master = Chip(reader, PicMasterSection, KvmIoctl.IrqchipPicMaster);
            slave = Chip(reader, PicSlaveSection, KvmIoctl.IrqchipPicSlave);
            ioapic = Chip(reader, IoapicSection, KvmIoctl.IrqchipIoapic);
            pit = reader.Struct<KvmPitState2>(Pit2Section);
        }
        KvmClockData clock = reader.Struct<KvmClockData>(ClockSection);
        reader.RequireAllRead();

        if (hasIrqchip)
        {
            Check(Libc.Ioctl(_vm, KvmIoctl.SetPit2, &pit), "KVM_SET_PIT2");
            Check(Libc.Ioctl(_vm, KvmIoctl.SetIrqchip, &master), "KVM_SET_IRQCHIP (PIC master)");
            Check(Libc.Ioctl(_vm, KvmIoctl.SetIrqchip, &slave), "KVM_SET_IRQCHIP (PIC slave)");
            Check(Libc.Ioctl(_vm, KvmIoctl.SetIrqchip, &ioapic), "KVM_SET_IRQCHIP (IOAPIC)");
        }
        // The guest's clock goes on from where it stood, as if the time in the snapshot had not passed (as
        // Firecracker restores it). KVM_SET_CLOCK takes none of GET's informational flags: TSC_STABLE is refused,
        // and REALTIME would make KVM advance the clock by the wall time since the capture.
        clock.Flags = 0;
        clock.Realtime = 0;
        clock.HostTsc = 0;
        Check(Libc.Ioctl(_vm, KvmIoctl.SetClock, &clock), "KVM_SET_CLOCK");
    }

    private KvmIrqchip GetIrqchip(uint chip)
    {
        var state = new KvmIrqchip { ChipId = chip };
        Check(Libc.Ioctl(_vm, KvmIoctl.GetIrqchip, &state), $"KVM_GET_IRQCHIP {chip}");
        return state;
    }

    private static KvmIrqchip Chip(KvmStateReader reader, string section, uint chip)
    {
        KvmIrqchip state = reader.Struct<KvmIrqchip>(section);
        if (state.ChipId != chip)
            throw new SnapshotException(SnapshotRefusal.Corrupt, $"VM: section '{section}' holds chip {state.ChipId}, not {chip}");
        return state;
    }

    private static byte[] Image<T>(in T value) where T : unmanaged =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)).ToArray();
}
