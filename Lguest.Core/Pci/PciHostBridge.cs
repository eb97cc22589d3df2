using System.Buffers.Binary;
using Lguest.Hypervisor;

namespace Lguest.Pci;

/// <summary>
/// The host bridge: device 0 of bus 0 (identified as the i440FX's 82441FX, 8086:1237, class 0600, as under
/// QEMU -M pc, which Linux's pci_sanity_check accepts), and configuration mechanism #1 on I/O ports
/// 0xcf8-0xcff (PCI Local Bus 3.0 §3.2.2.3.2): a dword written to CONFIG_ADDRESS (0xcf8) selects
/// bus/device/function/register while its bit 31 is set, and CONFIG_DATA (0xcfc-0xcff) then reaches
/// that register with byte, word or dword accesses.
/// </summary>
/// <remarks>
/// Accesses to CONFIG_DATA while the enable bit is clear, or to a function nobody implements (another
/// bus, function 1-7, an empty slot), read as all ones and drop writes, as a master abort does. Only a
/// dword access at 0xcf8 touches CONFIG_ADDRESS; narrower accesses to 0xcf8-0xcfb are ordinary I/O
/// (0xcf9 is the PC's reset control register) and go to <see cref="LegacyPorts"/>.
/// </remarks>
public sealed class PciHostBridge : PciDevice, IIoDevice
{
    /// <summary>CONFIG_ADDRESS, the first of the bridge's ports.</summary>
    public const ushort PortBase = 0xcf8;

    /// <summary>The ports the bridge claims: CONFIG_ADDRESS (0xcf8-0xcfb) and CONFIG_DATA (0xcfc-0xcff).</summary>
    public const int PortCount = 8;

    /// <summary>CONFIG_ADDRESS bit 31: configuration cycles enabled.</summary>
    public const uint ConfigAddressEnable = 0x8000_0000;

    // Bits that exist in CONFIG_ADDRESS: enable, bus, device, function, register (dword). Bits 30:24 and 1:0 read 0.
    private const uint ConfigAddressMask = ConfigAddressEnable | 0x00ff_fffc;
    private const int ConfigDataOffset = 4;

    private readonly PciBus _bus;
    private readonly Lock _lock = new();
    private uint _configAddress;

    internal PciHostBridge(PciBus bus)
        : base("host-bridge", new PciDeviceIdentity(VendorId: 0x8086, DeviceId: 0x1237, ClassCode: 0x06_00_00, RevisionId: 0x02))
        => _bus = bus;

    /// <summary>
    /// Receives the accesses to 0xcf8-0xcfb that are not a dword at 0xcf8, with the offset from 0xcf8:
    /// on a PC the reset control register at 0xcf9 (offset 1), which an ACPI FADT reset register or
    /// Linux's reboot=pci names. Null: such reads return all ones, writes are dropped.
    /// </summary>
    public IIoDevice? LegacyPorts { get; set; }

    /// <summary>The current CONFIG_ADDRESS value.</summary>
    public uint ConfigAddress
    {
        get
        {
            lock (_lock)
                return _configAddress;
        }
    }

    /// <inheritdoc />
    public void Read(ulong offset, Span<byte> data)
    {
        if (offset < ConfigDataOffset)
        {
            if (offset == 0 && data.Length == 4)
            {
                lock (_lock)
                    BinaryPrimitives.WriteUInt32LittleEndian(data, _configAddress);
            }
            else if (LegacyPorts is { } legacy)
                legacy.Read(offset, data);
            else
                data.Fill(0xff);
            return;
        }

        lock (_lock)
        {
            if (TrySelect(offset, data.Length, out PciDevice? device, out int register))
                device.ReadConfiguration(register, data);
            else
                data.Fill(0xff);
        }
    }

    /// <inheritdoc />
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset < ConfigDataOffset)
        {
            if (offset == 0 && data.Length == 4)
            {
                lock (_lock)
                    _configAddress = BinaryPrimitives.ReadUInt32LittleEndian(data) & ConfigAddressMask;
            }
            else
                LegacyPorts?.Write(offset, data);
            return;
        }

        lock (_lock)
        {
            if (TrySelect(offset, data.Length, out PciDevice? device, out int register))
                device.WriteConfiguration(register, data);
        }
    }

    // Which function and register a CONFIG_DATA access at port offset 4-7 reaches.
    private bool TrySelect(ulong offset, int width, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PciDevice? device, out int register)
    {
        device = null;
        register = 0;
        uint address = _configAddress;
        uint byteInData = (uint)offset - ConfigDataOffset;
        // Port I/O is 1, 2 or 4 bytes and the I/O bus keeps an access inside 0xcf8-0xcff; check anyway, the
        // run loop of a backend is not ours to trust.
        if ((address & ConfigAddressEnable) == 0 || width is not (1 or 2 or 4) || offset >= PortCount || byteInData + (uint)width > 4)
            return false;
        device = _bus.Find(bus: (int)(address >> 16) & 0xff, device: (int)(address >> 11) & 0x1f, function: (int)(address >> 8) & 0x7);
        register = (int)(address & 0xfc) + (int)byteInData;
        return device is not null;
    }
}
