using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Pci;

/// <summary>
/// A single-function PCI device on a <see cref="PciBus"/>: its type 0 configuration header with the write
/// masks hardware has, its memory BARs, and its INTx# pin. Derived devices declare BARs and capabilities
/// in their constructor and may intercept configuration accesses by overriding
/// <see cref="ReadConfiguration"/> and <see cref="WriteConfiguration"/> (calling the base for the rest).
/// </summary>
/// <remarks>
/// Configuration accesses come from the host bridge, one at a time. <see cref="SetInterruptLevel"/> may be
/// called from any thread.
/// </remarks>
public abstract class PciDevice
{
    private const int BarRegistersEnd = PciHeader.BaseAddress0 + 4 * PciHeader.BarCount;

    // The command bits software may write (PCI Local Bus 3.0 §6.2.2); the rest are hardwired to 0.
    private const PciCommand WritableCommandBits = PciCommand.IoSpace | PciCommand.MemorySpace | PciCommand.BusMaster
        | PciCommand.ParityErrorResponse | PciCommand.SErrEnable | PciCommand.InterruptDisable;

    private readonly PciBar?[] _bars = new PciBar?[PciHeader.BarCount];
    private readonly List<PciBar> _barList = [];
    private readonly Lock _interruptLock = new();
    private IInterruptLine? _interruptLine;
    private volatile bool _interruptLevel;
    private bool _interruptDriven;

    /// <summary>Creates the device with its identification registers set and everything else at power-on values.</summary>
    /// <param name="name">A short name for messages ("block0").</param>
    /// <param name="identity">Vendor, device, class and subsystem identification.</param>
    protected PciDevice(string name, PciDeviceIdentity identity)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (identity.ClassCode > 0xff_ffff)
            throw new ArgumentOutOfRangeException(nameof(identity), $"class code 0x{identity.ClassCode:x} is wider than 24 bits");
        Name = name;
        PciConfigurationSpace c = Configuration;
        c.SetUInt16(PciHeader.VendorId, identity.VendorId);
        c.SetUInt16(PciHeader.DeviceId, identity.DeviceId);
        c.SetByte(PciHeader.RevisionId, identity.RevisionId);
        c.SetByte(PciHeader.ClassProgrammingInterface, (byte)identity.ClassCode);
        c.SetUInt16(PciHeader.ClassDevice, (ushort)(identity.ClassCode >> 8));
        c.SetUInt16(PciHeader.SubsystemVendorId, identity.SubsystemVendorId);
        c.SetUInt16(PciHeader.SubsystemId, identity.SubsystemId);
        c.SetWriteMask(PciHeader.Command, 2, (uint)WritableCommandBits);
        c.SetWriteOneToClearMask(PciHeader.Status, 2, (uint)PciStatus.WriteOneToClear);
        c.SetWriteMask(PciHeader.CacheLineSize, 1, 0xff);
        c.SetWriteMask(PciHeader.InterruptLine, 1, 0xff);
    }

    /// <summary>The device's name, for messages.</summary>
    public string Name { get; }

    /// <summary>The configuration space as the device holds it (without the live interrupt-status bit).</summary>
    public PciConfigurationSpace Configuration { get; } = new();

    /// <summary>The device number (slot) on bus 0, or -1 before the device is added to a bus.</summary>
    public int DeviceNumber { get; private set; } = -1;

    /// <summary>The device's memory BARs, in register order.</summary>
    public IReadOnlyList<PciBar> Bars => _barList;

    /// <summary>The command register's current value.</summary>
    public PciCommand Command => (PciCommand)Configuration.ReadUInt16(PciHeader.Command);

    internal PciBus? Bus { get; private set; }

    /// <summary>The name, vendor:device and class code, as lspci shows them.</summary>
    public override string ToString() =>
        $"{Name} [{Configuration.ReadUInt16(PciHeader.VendorId):x4}:{Configuration.ReadUInt16(PciHeader.DeviceId):x4}] class {Configuration.ReadUInt32(PciHeader.RevisionId) >> 8:x6}";

    /// <summary>
    /// The guest reads configuration space: <c>data</c> (1, 2 or 4 bytes) lies within one dword at
    /// <paramref name="offset"/>. The base returns the stored bytes with the live interrupt-status bit.
    /// </summary>
    public virtual void ReadConfiguration(int offset, Span<byte> data)
    {
        Configuration.Read(offset, data);
        int statusAt = PciHeader.Status - offset;
        if (statusAt >= 0 && statusAt < data.Length)
        {
            // The interrupt-status bit is computed, not stored: a device thread raising its interrupt
            // must not race a guest write to the same byte of the status register.
            data[statusAt] = (byte)((data[statusAt] & ~(int)PciStatus.Interrupt) | (_interruptLevel ? (int)PciStatus.Interrupt : 0));
        }
    }

    /// <summary>
    /// The guest writes configuration space (1, 2 or 4 bytes within one dword). The base applies the
    /// write masks, then acts on the command register (BAR decoding, INTx# disable) and on moved BARs.
    /// </summary>
    public virtual void WriteConfiguration(int offset, ReadOnlySpan<byte> data)
    {
        Configuration.Write(offset, data);
        int end = offset + data.Length;
        bool command = offset < PciHeader.Command + 2 && end > PciHeader.Command;
        if (command)
            DriveInterruptLine();
        if (command || (offset < BarRegistersEnd && end > PciHeader.BaseAddress0))
            Bus?.UpdateDecoding(this);
    }

    /// <summary>The configuration space's 256 bytes, for a snapshot (the interrupt-status bit is live state, not kept).</summary>
    public byte[] CaptureConfiguration() => Configuration.CaptureBytes();

    /// <summary>
    /// Takes a snapshot's configuration space: the bits software can change, after checking the others match (the
    /// same device); then decodes the BARs where they were programmed and drives INTx# as the command register says.
    /// </summary>
    /// <exception cref="Snapshot.SnapshotException">The snapshot's bytes are of another device.</exception>
    public virtual void RestoreConfiguration(ReadOnlySpan<byte> bytes)
    {
        if (!Configuration.TryRestoreBytes(bytes, out string? problem))
            throw new Snapshot.SnapshotException(Snapshot.SnapshotRefusal.Incompatible, $"PCI device {Name}: {problem}");
        DriveInterruptLine();
        Bus?.UpdateDecoding(this);
    }

    /// <summary>
    /// Declares memory BAR <paramref name="index"/> of <paramref name="size"/> bytes (a power of two, at
    /// least <see cref="PciBar.MinimumSize"/>); guest accesses to it reach <paramref name="region"/>.
    /// Call from the constructor; the bus places the BAR when the device is added.
    /// </summary>
    protected PciBar AddMemoryBar(int index, ulong size, PciBarKind kind, bool prefetchable, IIoDevice region)
    {
        ArgumentNullException.ThrowIfNull(region);
        int registers = kind == PciBarKind.Memory64 ? 2 : 1;
        if (index < 0 || index + registers > PciHeader.BarCount)
            throw new ArgumentOutOfRangeException(nameof(index), index, "no such BAR register");
        if (_bars[index] is not null || (registers == 2 && _bars[index + 1] is not null) || (index > 0 && _bars[index - 1]?.Kind == PciBarKind.Memory64))
            throw new ArgumentException($"BAR{index} is already in use", nameof(index));
        if (size < PciBar.MinimumSize || !ulong.IsPow2(size) || (kind == PciBarKind.Memory32 && size > 1UL << 31))
            throw new ArgumentOutOfRangeException(nameof(size), size, "a BAR is a power of two, at least a page, and below 4 GiB if 32-bit");
        if (Bus is not null)
            throw new InvalidOperationException("BARs are declared before the device joins the bus");

        var bar = new PciBar(index, size, kind, prefetchable, region);
        _bars[index] = bar;
        _barList.Add(bar);
        _barList.Sort(static (a, b) => a.Index.CompareTo(b.Index));

        // Sizing (PCI Local Bus 3.0 §6.2.5.1): the address bits below the size are hardwired to 0, so
        // writing all ones reads back the size mask; the type bits (3:0) are read-only.
        uint flags = (kind == PciBarKind.Memory64 ? PciHeader.BarMemoryType64 : 0) | (prefetchable ? PciHeader.BarMemoryPrefetch : 0);
        Configuration.SetUInt32(bar.RegisterOffset, flags);
        Configuration.SetWriteMask(bar.RegisterOffset, 4, (uint)~(size - 1) & PciHeader.BarMemoryMask);
        if (kind == PciBarKind.Memory64)
            Configuration.SetWriteMask(bar.RegisterOffset + 4, 4, (uint)(~(size - 1) >> 32));
        return bar;
    }

    /// <summary>Gives the device an INTx# pin (INTA#); the bus routes it when the device is added.</summary>
    protected void UseInterruptPin() => Configuration.SetByte(PciHeader.InterruptPin, 1);

    /// <summary>
    /// Raises or lowers the device's INTx# (level-triggered). The status register shows the level; the
    /// line follows it unless software set <see cref="PciCommand.InterruptDisable"/>. Safe from any thread.
    /// </summary>
    protected void SetInterruptLevel(bool asserted)
    {
        lock (_interruptLock)
        {
            if (_interruptLevel == asserted)
                return;
            _interruptLevel = asserted;
            DriveInterruptLineLocked();
        }
    }

    /// <summary>
    /// Called when BAR <paramref name="bar"/> starts decoding at a new address, stops decoding
    /// (<see cref="PciBar.MappedAddress"/> null), or moves, after the MMIO bus was updated.
    /// </summary>
    /// <param name="bar">The BAR, with its new <see cref="PciBar.MappedAddress"/>.</param>
    /// <param name="previous">Where it decoded before, or null.</param>
    protected virtual void OnBarMapped(PciBar bar, GuestAddress? previous)
    {
    }

    /// <summary>The programmed base address of <paramref name="bar"/>, from its register(s).</summary>
    internal ulong ProgrammedAddress(PciBar bar)
    {
        ulong address = Configuration.ReadUInt32(bar.RegisterOffset) & PciHeader.BarMemoryMask;
        if (bar.Kind == PciBarKind.Memory64)
            address |= (ulong)Configuration.ReadUInt32(bar.RegisterOffset + 4) << 32;
        return address;
    }

    /// <summary>Programs <paramref name="bar"/>'s address as firmware would.</summary>
    internal void ProgramAddress(PciBar bar, ulong address)
    {
        uint low = Configuration.ReadUInt32(bar.RegisterOffset) & ~PciHeader.BarMemoryMask;
        Configuration.SetUInt32(bar.RegisterOffset, low | ((uint)address & PciHeader.BarMemoryMask));
        if (bar.Kind == PciBarKind.Memory64)
            Configuration.SetUInt32(bar.RegisterOffset + 4, (uint)(address >> 32));
    }

    internal void Attach(PciBus bus, int deviceNumber, IInterruptLine? line, int gsi)
    {
        Bus = bus;
        DeviceNumber = deviceNumber;
        if (line is not null)
        {
            // Firmware's job: tell software where the pin is routed (PCI Local Bus 3.0 §6.2.4).
            Configuration.SetByte(PciHeader.InterruptLine, (byte)gsi);
            lock (_interruptLock)
            {
                _interruptLine = line;
                DriveInterruptLineLocked();
            }
        }
    }

    internal void NotifyBarMapped(PciBar bar, GuestAddress? previous) => OnBarMapped(bar, previous);

    private void DriveInterruptLine()
    {
        lock (_interruptLock)
            DriveInterruptLineLocked();
    }

    private void DriveInterruptLineLocked()
    {
        bool drive = _interruptLevel && _interruptLine is not null && (Command & PciCommand.InterruptDisable) == 0;
        if (drive == _interruptDriven)
            return;
        _interruptDriven = drive;
        if (drive)
            _interruptLine!.Assert();
        else
            _interruptLine!.Deassert();
    }
}
