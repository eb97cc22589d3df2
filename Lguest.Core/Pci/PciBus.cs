using Lguest.Hypervisor;
using Lguest.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Pci;

/// <summary>
/// PCI bus 0: a host bridge in slot 0 and up to 31 single-function devices. Acting as the firmware a
/// direct kernel boot does without, the bus places each device's BARs in the guest's MMIO window
/// (naturally aligned, as kvmtool and Firecracker pre-assign them, so Linux keeps them), enables memory
/// decoding, and routes each INTx# pin to a GSI written in PCI_INTERRUPT_LINE. Afterwards it follows the
/// guest: a BAR the guest moves, or whose decoding it turns off, is moved on the MMIO bus.
/// </summary>
/// <remarks>
/// Register the <see cref="HostBridge"/> on the port bus at <see cref="PciHostBridge.PortBase"/>
/// (<see cref="PciHostBridge.PortCount"/> ports). Interrupt tables (MP, ACPI _PRT) take
/// <see cref="InterruptRoutes"/>; an ACPI host bridge _CRS takes <see cref="MmioWindow"/>.
/// </remarks>
public sealed class PciBus
{
    /// <summary>Device numbers on a bus: 5 bits of CONFIG_ADDRESS.</summary>
    public const int SlotCount = 32;

    private readonly IVirtualMachine _machine;
    private readonly IoBus _mmioBus;
    private readonly ILogger _logger;
    private readonly int[] _interruptLines;
    private readonly PciDevice?[] _slots = new PciDevice?[SlotCount];
    private readonly Dictionary<int, SharedInterruptLine> _sharedLines = [];
    private readonly List<PciInterruptRoute> _routes = [];
    private readonly Lock _lock = new();
    private ulong _nextMmio;

    /// <summary>Creates bus 0 with its host bridge.</summary>
    /// <param name="machine">The guest: its memory layout gives the MMIO window, its interrupt lines the INTx# wiring.</param>
    /// <param name="mmioBus">The MMIO bus BARs are registered on.</param>
    /// <param name="options">Interrupt wiring; null for the defaults.</param>
    /// <param name="logger">Where placement decisions are logged.</param>
    public PciBus(IVirtualMachine machine, IoBus mmioBus, PciBusOptions? options = null, ILogger<PciBus>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(mmioBus);
        options ??= new PciBusOptions();
        options.Validate();
        _machine = machine;
        _mmioBus = mmioBus;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _interruptLines = options.InterruptLines.ToArray();
        MmioWindow = machine.Memory.Layout.MmioWindow;
        _nextMmio = MmioWindow.Start.Value;
        HostBridge = new PciHostBridge(this);
        _slots[0] = HostBridge;
        HostBridge.Attach(this, 0, null, 0);
    }

    /// <summary>The host bridge in slot 0, which also serves configuration mechanism #1.</summary>
    public PciHostBridge HostBridge { get; }

    /// <summary>The guest-physical window BARs are placed in.</summary>
    public GuestMemoryRegion MmioWindow { get; }

    /// <summary>Where each device's interrupt pin is wired, in slot order.</summary>
    public IReadOnlyList<PciInterruptRoute> InterruptRoutes
    {
        get
        {
            lock (_lock)
                return _routes.ToArray();
        }
    }

    /// <summary>The devices on the bus, host bridge first, in slot order.</summary>
    public IReadOnlyList<PciDevice> Devices
    {
        get
        {
            lock (_lock)
                return _slots.OfType<PciDevice>().ToArray();
        }
    }

    /// <summary>
    /// Puts <paramref name="device"/> in the next free slot: places its BARs, enables memory decoding and
    /// routes its interrupt pin. Returns the device number. Slots follow the order of the calls, so the
    /// guest sees the same layout on every boot.
    /// </summary>
    /// <exception cref="PciException">No slot is free, or the MMIO window cannot hold the BARs.</exception>
    public int Add(PciDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (_lock)
        {
            if (device.Bus is not null)
                throw new InvalidOperationException($"{device.Name} is already on a PCI bus");
            int slot = Array.IndexOf(_slots, null);
            if (slot < 0)
                throw new PciException($"{device.Name}: the PCI bus is full ({SlotCount - 1} devices at most)");

            // Largest first, so alignment wastes the least of the window.
            ulong next = _nextMmio;
            var placed = new List<(PciBar Bar, ulong Address)>();
            foreach (PciBar bar in device.Bars.OrderByDescending(b => b.Size))
            {
                ulong alignment = Math.Max(bar.Size, GuestMemoryLayout.PageSize);
                ulong address = (next + alignment - 1) & ~(alignment - 1);
                ulong limit = bar.Kind == PciBarKind.Memory32 ? Math.Min(MmioWindow.End.Value, GuestMemoryLayout.FourGiB) : MmioWindow.End.Value;
                if (address < next || address > limit || bar.Size > limit - address)
                    throw new PciException($"{device.Name}: the MMIO window {MmioWindow} has no room for BAR{bar.Index} of 0x{bar.Size:x} bytes");
                placed.Add((bar, address));
                next = address + bar.Size;
            }
            _nextMmio = next;
            foreach ((PciBar bar, ulong address) in placed)
                device.ProgramAddress(bar, address);
            if (placed.Count > 0)
                device.Configuration.SetUInt16(PciHeader.Command, (ushort)(device.Configuration.ReadUInt16(PciHeader.Command) | (ushort)PciCommand.MemorySpace));

            IInterruptLine? pin = null;
            int gsi = -1;
            byte interruptPin = device.Configuration.ReadByte(PciHeader.InterruptPin);
            if (interruptPin != 0)
            {
                gsi = _interruptLines[(slot - 1) % _interruptLines.Length];
                pin = SharedPinLocked(gsi);
                _routes.Add(new PciInterruptRoute(slot, interruptPin, gsi));
            }

            _slots[slot] = device;
            device.Attach(this, slot, pin, gsi);
            _logger.DeviceAdded(slot, device, gsi);
            UpdateDecoding(device);
            return slot;
        }
    }

    /// <summary>
    /// A level-triggered input of its own on line <paramref name="gsi"/>, wired-OR with the INTx# pins the bus routes
    /// there: for a platform device that shares a PCI interrupt line (the ACPI SCI on IRQ 9).
    /// </summary>
    internal IInterruptLine CreateSharedPin(int gsi)
    {
        lock (_lock)
            return SharedPinLocked(gsi);
    }

    private IInterruptLine SharedPinLocked(int gsi)
    {
        if (!_sharedLines.TryGetValue(gsi, out SharedInterruptLine? shared))
            _sharedLines[gsi] = shared = new SharedInterruptLine(_machine.GetInterruptLine(gsi));
        return shared.CreatePin();
    }

    /// <summary>The function at bus/device/function, or null when none answers there.</summary>
    internal PciDevice? Find(int bus, int device, int function) =>
        bus == 0 && function == 0 && (uint)device < SlotCount ? Volatile.Read(ref _slots[device]) : null;

    /// <summary>
    /// Brings the MMIO bus in line with <paramref name="device"/>'s BAR registers and command register:
    /// each BAR decodes at its programmed address while memory space is enabled, if the range neither
    /// wraps nor collides with another device. Tells the device about every change.
    /// </summary>
    internal void UpdateDecoding(PciDevice device)
    {
        lock (_lock)
        {
            bool memory = (device.Command & PciCommand.MemorySpace) != 0;
            foreach (PciBar bar in device.Bars)
            {
                ulong address = device.ProgrammedAddress(bar);
                GuestAddress? previous = bar.MappedAddress;
                GuestAddress? wanted = memory ? new GuestAddress(address) : null;
                if (wanted == previous)
                    continue;
                if (previous is { } old)
                    _mmioBus.Unregister(old.Value, bar.Region);
                // The guest owns the address: while it sizes a BAR the address is its size mask, which for a
                // 64-bit BAR wraps past 2^64; elsewhere it may collide with another device. Either way the
                // BAR does not decode until the guest gives it a usable address.
                if (wanted is { } at && !_mmioBus.TryRegister(at.Value, bar.Size, bar.Region, out string? refusal))
                {
                    _logger.BarNotDecoded(device.DeviceNumber, device.Name, bar.Index, refusal);
                    wanted = null;
                }
                bar.MappedAddress = wanted;
                if (wanted != previous)
                {
                    _logger.BarMapped(device.DeviceNumber, device.Name, bar);
                    device.NotifyBarMapped(bar, previous);
                }
            }
        }
    }
}
