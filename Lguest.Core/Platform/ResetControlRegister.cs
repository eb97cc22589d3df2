using Lguest.Hypervisor;

namespace Lguest.Platform;

/// <summary>
/// The PIIX/ICH reset control register, a byte at port 0xCF9, which the ACPI FADT names as the reset
/// register (Linux's reboot=acpi writes 0x06 there, reboot=pci too). It sits inside the PCI
/// configuration ports 0xCF8-0xCFF: with a PCI bus it is the host bridge's
/// <see cref="Pci.PciHostBridge.LegacyPorts"/> (offsets from 0xCF8); without one it is registered on
/// the whole range itself, and everything but 0xCF9 reads as all ones.
/// </summary>
public sealed class ResetControlRegister(IPowerControl power) : IIoDevice
{
    /// <summary>Where the range it answers at starts: the PCI CONFIG_ADDRESS port.</summary>
    public const ushort BasePort = 0xCF8;

    /// <summary>CONFIG_ADDRESS and CONFIG_DATA: eight ports.</summary>
    public const int PortCount = 8;

    /// <summary>The reset control register's port.</summary>
    public const ushort Port = 0xCF9;

    /// <summary>SYS_RST (bit 1) with RST_CPU (bit 2): a full reset, the value the FADT advertises.</summary>
    public const byte ResetValue = 0x06;

    private const byte RstCpu = 0x04;
    private byte _value;

    /// <inheritdoc />
    public void Read(ulong offset, Span<byte> data)
    {
        if (IsResetRegister(offset, data.Length))
            data[0] = _value;
        else
            data.Fill(0xFF);
    }

    /// <inheritdoc />
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (!IsResetRegister(offset, data.Length))
            return;
        byte value = data[0];
        // The reset happens on RST_CPU's 0→1 transition; SYS_RST picks hard over soft, the same to us.
        if ((value & RstCpu) != 0 && (_value & RstCpu) == 0)
            power.RequestReset();
        _value = (byte)(value & ~RstCpu);
    }

    private static bool IsResetRegister(ulong offset, int length) => offset == Port - BasePort && length == 1;
}
