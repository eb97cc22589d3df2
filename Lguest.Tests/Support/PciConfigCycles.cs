using System.Buffers.Binary;
using Lguest.Pci;

namespace Lguest.Tests.Support;

/// <summary>
/// Configuration mechanism #1 as Linux's pci_conf1_read/pci_conf1_write use it: a dword to CONFIG_ADDRESS,
/// then a byte, word or dword at 0xcfc + (register &amp; 3).
/// </summary>
internal static class PciConfigCycles
{
    public static uint Address(int bus, int device, int function, int register) =>
        PciHostBridge.ConfigAddressEnable | (uint)(bus << 16) | (uint)(device << 11) | (uint)(function << 8) | (uint)(register & 0xfc);

    public static uint Read(PciHostBridge bridge, int device, int register, int width, int bus = 0, int function = 0)
    {
        Span<byte> address = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(address, Address(bus, device, function, register));
        bridge.Write(0, address);
        Span<byte> data = stackalloc byte[4];
        bridge.Read(4 + (ulong)(register & 3), data[..width]);
        return BinaryPrimitives.ReadUInt32LittleEndian(data) & (width == 4 ? uint.MaxValue : (1u << (8 * width)) - 1);
    }

    public static void Write(PciHostBridge bridge, int device, int register, int width, uint value, int bus = 0, int function = 0)
    {
        Span<byte> address = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(address, Address(bus, device, function, register));
        bridge.Write(0, address);
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        bridge.Write(4 + (ulong)(register & 3), data[..width]);
    }
}
