using System.Buffers.Binary;
using Lguest.Fuzz.Fakes;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Fuzz.Targets;

/// <summary>
/// The virtio-PCI transport as a driver sees it: register accesses of any width at any offset of BAR 0 and of
/// configuration space (through the host bridge's 0xcf8/0xcfc ports), in any order, with the device
/// serving its rings and raising its own events in between. Only <see cref="BadDriverException"/> may come
/// out (in strict mode), and the device only ever receives rings inside guest memory.
/// </summary>
/// <remarks>
/// Layout: byte 0 = bit 0 strict, bit 1 the backend takes notify events (ioeventfd), bit 2 the backend offers
/// MSI routes (the transport then has an MSI-X capability, table and PBA in a larger BAR). Then operations, each an
/// opcode byte (low 3 bits) with its arguments: 0 BAR write (offset16, width, value64), 1 BAR read (offset16,
/// width), 2 configuration write (register, width, value32), 3 configuration read (register, width), 4 host
/// bridge port access (port, width, value32, bit 7 of the opcode = write), 5 the device serves its queues,
/// 6 the guest scribbles on RAM (address16, 8 bytes), 7 a device event (kind, queue).
/// </remarks>
public sealed class VirtioPciTransportTarget : FuzzTarget, IDisposable
{
    private const int MemorySize = 0x10000;
    private const int MaxOperations = 512;
    private static readonly int[] Widths = [1, 2, 4, 8, 0, 3, 16, 1];

    private readonly GuestMemory _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MemorySize));

    /// <inheritdoc />
    public override string Name => "virtio-pci";

    /// <inheritdoc />
    public void Dispose() => _memory.Dispose();

    /// <inheritdoc />
    protected override void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        byte mode = reader.Byte();
        bool strict = (mode & 1) != 0;
        _memory.Clear(GuestAddress.Zero, MemorySize);
        var machine = new FuzzMachine(_memory, acceptsNotifyEvents: (mode & 2) != 0, offersMsiRoutes: (mode & 4) != 0);
        var device = new FuzzVirtioDevice(_memory);
        var mmio = new IoBus("mmio");
        var bus = new PciBus(machine, mmio);
        var transport = new VirtioPciTransport(device, machine, new VirtioPciTransportOptions { Strict = strict, Fatal = strict ? _ => { } : null });
        int slot = bus.Add(transport);
        IIoDevice bar = transport.Bar.Region;
        // Past the end on purpose: the BAR's own bounds checks are under test too.
        ulong offsets = transport.Bar.Size + 64;
        Span<byte> data = stackalloc byte[16];
        try
        {
            for (int i = 0; i < MaxOperations && !reader.IsEmpty; i++)
            {
                byte op = reader.Byte();
                switch (op & 7)
                {
                    case 0:
                    {
                        ulong offset = reader.UInt16() % offsets;
                        Span<byte> access = data[..Widths[reader.Byte() & 7]];
                        BinaryPrimitives.WriteUInt64LittleEndian(data, reader.UInt64());
                        bar.Write(offset, access);
                        break;
                    }
                    case 1:
                    {
                        ulong offset = reader.UInt16() % offsets;
                        bar.Read(offset, data[..Widths[reader.Byte() & 7]]);
                        break;
                    }
                    case 2:
                        ConfigurationCycle(bus.HostBridge, slot, reader.Byte(), reader.Byte(), reader.UInt32(), write: true);
                        break;
                    case 3:
                        ConfigurationCycle(bus.HostBridge, slot, reader.Byte(), reader.Byte(), 0, write: false);
                        break;
                    case 4:
                    {
                        ulong port = (ulong)(reader.Byte() % PciHostBridge.PortCount);
                        Span<byte> access = data[..Widths[reader.Byte() & 3]];
                        BinaryPrimitives.WriteUInt32LittleEndian(data, reader.UInt32());
                        if ((op & 0x80) != 0)
                            bus.HostBridge.Write(port, access);
                        else
                            bus.HostBridge.Read(port, access);
                        break;
                    }
                    case 5:
                        device.Serve();
                        break;
                    case 6:
                        _memory.Write(new GuestAddress((ulong)reader.UInt16() % (MemorySize - 8)), reader.Bytes(8));
                        break;
                    default:
                        DeviceEvent(device, reader.Byte(), reader.Byte());
                        break;
                }
            }
        }
        finally
        {
            transport.Dispose();
            InvariantViolationException.ThrowUnless(machine.LiveNotifyEvents == 0, $"{machine.LiveNotifyEvents} notify event(s) left registered after the transport was disposed");
            InvariantViolationException.ThrowUnless(machine.LiveMsiRoutes == 0, $"{machine.LiveMsiRoutes} MSI route(s) left alive after the transport was disposed");
        }
    }

    // Configuration mechanism #1: the address to 0xcf8, then the data at 0xcfc + (register & 3).
    private static void ConfigurationCycle(PciHostBridge bridge, int slot, byte register, byte widthCode, uint value, bool write)
    {
        int width = (widthCode & 3) switch { 0 => 1, 1 => 2, _ => 4 };
        // Mostly our device; sometimes another slot or function, which must read as absent.
        int device = (widthCode & 0x30) == 0x30 ? (widthCode >> 2) & 0x1f : slot;
        int function = (widthCode & 0xc0) == 0xc0 ? 1 : 0;
        Span<byte> address = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(address, PciHostBridge.ConfigAddressEnable | (uint)(device << 11) | (uint)(function << 8) | (uint)(register & 0xfc));
        bridge.Write(0, address);
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        ulong port = 4 + (ulong)(register & 3);
        if (write)
            bridge.Write(port, data[..width]);
        else
            bridge.Read(port, data[..width]);
    }

    private static void DeviceEvent(FuzzVirtioDevice device, byte kind, byte queue)
    {
        if (device.Active is not { } active)
            return;
        switch (kind % 3)
        {
            case 0:
                active.Transport.SignalUsedBuffers(queue % 3);
                break;
            case 1:
                device.ConfigGeneration++;
                active.Transport.SignalConfigChange();
                break;
            default:
                active.Transport.ReportBadDriver(new BadDriverException("fuzz vq", "the device found a broken ring"));
                break;
        }
    }

    /// <inheritdoc />
    public override IEnumerable<KeyValuePair<string, byte[]>> Seeds()
    {
        // A driver bringing the device up by the book (virtio 1.2 §3.1.1), then notifying and taking interrupts.
        FuzzInputWriter BringUp(int mode)
        {
            var w = new FuzzInputWriter().Byte(mode);
            void BarWrite(int offset, int widthCode, ulong value) => w.Byte(0).UInt16(offset).Byte(widthCode).UInt64(value);
            BarWrite(DeviceStatus, 0, 0);
            BarWrite(DeviceStatus, 0, 1);
            BarWrite(DeviceStatus, 0, 3);
            w.Byte(1).UInt16(DeviceFeature).Byte(2);
            BarWrite(DriverFeatureSelect, 2, 0);
            BarWrite(DriverFeature, 2, VirtioFeatures.RingEventIndex | 0x3);
            BarWrite(DriverFeatureSelect, 2, 1);
            BarWrite(DriverFeature, 2, 1);
            BarWrite(DeviceStatus, 0, 11);
            w.Byte(1).UInt16(DeviceStatus).Byte(0);
            for (int q = 0; q < 2; q++)
            {
                BarWrite(QueueSelect, 1, (ulong)q);
                w.Byte(1).UInt16(QueueSize).Byte(1);
                BarWrite(QueueDesc, 3, 0x1000 + 0x1000UL * (ulong)q);
                BarWrite(QueueDriver, 3, 0x1800 + 0x1000UL * (ulong)q);
                BarWrite(QueueDevice, 3, 0x1c00 + 0x1000UL * (ulong)q);
                BarWrite(QueueEnable, 1, 1);
            }
            BarWrite(DeviceStatus, 0, 15);
            return w;
        }

        yield return new("bring-up", BringUp(2).ToArray());
        // MSI-X: the table entry of vector 0 programmed and unmasked, the function enabled, the queue's
        // and config's vectors chosen, then a used-buffer and a config event.
        var msix = BringUp(6);
        msix.Byte(0).UInt16(VirtioPciTransport.MsixTableOffset).Byte(3).UInt64(0xfee0_0000);
        msix.Byte(0).UInt16(VirtioPciTransport.MsixTableOffset + 8).Byte(2).UInt64(0x41);
        msix.Byte(0).UInt16(VirtioPciTransport.MsixTableOffset + 12).Byte(2).UInt64(0);
        msix.Byte(2).Byte(0x9a).Byte(1).UInt32(0x8000);
        msix.Byte(0).UInt16(ConfigMsixVector).Byte(1).UInt64(0);
        msix.Byte(0).UInt16(QueueSelect).Byte(1).UInt64(0);
        msix.Byte(0).UInt16(QueueMsixVector).Byte(1).UInt64(0);
        msix.Byte(7).Byte(0).Byte(0);
        msix.Byte(7).Byte(1).Byte(0);
        msix.Byte(1).UInt16(VirtioPciTransport.MsixPbaOffset).Byte(3);
        yield return new("msix", msix.ToArray());
        yield return new("bring-up-strict-no-ioeventfd", BringUp(1).ToArray());
        // Live: a chain in queue 0, a notification, the device serving it, the ISR read, a configuration change.
        var live = BringUp(0);
        live.Byte(6).UInt16(0x1000).Bytes([0x00, 0x30, 0, 0, 0, 0, 0, 0]);   // descriptor 0: address 0x3000
        live.Byte(6).UInt16(0x1008).Bytes([16, 0, 0, 0, 2, 0, 0, 0]);         // length 16, WRITE
        live.Byte(6).UInt16(0x1800).Bytes([0, 0, 1, 0, 0, 0, 0, 0]);          // avail idx 1, ring[0] = 0
        live.Byte(0).UInt16(VirtioPciTransport.NotifyOffset).Byte(1).UInt64(0);
        live.Byte(5);
        live.Byte(1).UInt16(VirtioPciTransport.IsrOffset).Byte(0);
        live.Byte(7).Byte(1).Byte(0);
        live.Byte(1).UInt16(ConfigGeneration).Byte(0);
        live.Byte(1).UInt16(VirtioPciTransport.DeviceConfigOffset + 4).Byte(2);
        yield return new("live", live.ToArray());
        // Configuration space: the capability list, BAR sizing and moving, the PCI_CFG window.
        var config = new FuzzInputWriter().Byte(2);
        config.Byte(3).Byte(0x34).Byte(0);
        config.Byte(3).Byte(0x40).Byte(2);
        config.Byte(2).Byte(0x10).Byte(2).UInt32(uint.MaxValue);
        config.Byte(3).Byte(0x10).Byte(2);
        config.Byte(2).Byte(0x10).Byte(2).UInt32(0xfe00_0000);
        config.Byte(2).Byte(0x04).Byte(1).UInt32(2);
        config.Byte(2).Byte(0x78).Byte(0).UInt32(0);
        config.Byte(2).Byte(0x7c).Byte(2).UInt32(0x14);
        config.Byte(2).Byte(0x80).Byte(2).UInt32(1);
        config.Byte(3).Byte(0x84).Byte(0);
        config.Byte(2).Byte(0x44).Byte(2).UInt32(0);
        config.Byte(0x84 | 0x80).Byte(0).Byte(2).UInt32(0x8000_0800);
        config.Byte(4).Byte(4).Byte(2);
        yield return new("configuration-space", config.ToArray());
    }
}
