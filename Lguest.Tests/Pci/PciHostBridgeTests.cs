using System.Buffers.Binary;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Tests.Support;

namespace Lguest.Tests.Pci;

public class PciHostBridgeTests
{
    private FakeVirtualMachine _machine = null!;
    private PciBus _bus = null!;
    private IoBus _ports = null!;

    [SetUp]
    public void SetUp()
    {
        _machine = new FakeVirtualMachine(GuestMemoryLayout.WithMmioHole(16 << 20));
        _bus = new PciBus(_machine, new IoBus("mmio"));
        _bus.Add(new TestPciDevice("a", (0, 0x4000, PciBarKind.Memory64)));
        _ports = new IoBus("pio");
        _ports.Register(PciHostBridge.PortBase, PciHostBridge.PortCount, _bus.HostBridge);
    }

    [TearDown]
    public void TearDown() => _machine.Dispose();

    private void Out(ushort port, uint value, int width)
    {
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        _ports.Write(port, data[..width]);
    }

    private uint In(ushort port, int width)
    {
        Span<byte> data = stackalloc byte[4];
        _ports.Read(port, data[..width]);
        return BinaryPrimitives.ReadUInt32LittleEndian(data) & (width == 4 ? uint.MaxValue : (1u << (8 * width)) - 1);
    }

    [Test]
    public void Config_address_latches_a_dword_and_reads_it_back_without_reserved_bits()
    {
        Out(0xcf8, 0xffff_ffff, 4);
        Assert.That(In(0xcf8, 4), Is.EqualTo(0x80ff_fffc));
    }

    [Test]
    public void Linux_pci_check_type1_finds_mechanism_1()
    {
        // arch/x86/pci/direct.c: a byte to 0xcfb must not disturb CONFIG_ADDRESS; a dword must stick.
        Out(0xcfb, 0x01, 1);
        uint saved = In(0xcf8, 4);
        Out(0xcf8, 0x8000_0000, 4);
        Assert.That(In(0xcf8, 4), Is.EqualTo(0x8000_0000));
        Out(0xcf8, saved, 4);
    }

    [Test]
    public void Narrow_accesses_to_config_address_do_not_touch_it_and_read_all_ones()
    {
        Out(0xcf8, 0x8000_0800, 4);
        Out(0xcf8, 0x00, 1);
        Out(0xcfa, 0x0000, 2);
        Assert.That(In(0xcf8, 4), Is.EqualTo(0x8000_0800));
        Assert.That(In(0xcf8, 1), Is.EqualTo(0xff));
        Assert.That(In(0xcf9, 1), Is.EqualTo(0xff));
        Assert.That(In(0xcfa, 2), Is.EqualTo(0xffff));
    }

    [Test]
    public void Narrow_accesses_to_config_address_go_to_the_legacy_ports_device()
    {
        var reset = new RecordingIoDevice(readValue: 0x00);
        _bus.HostBridge.LegacyPorts = reset;
        Out(0xcf9, 0x06, 1);
        Assert.That(In(0xcf9, 1), Is.Zero);
        Assert.That(reset.Accesses, Is.EqualTo(new[] { ("write", 1UL, new byte[] { 6 }), ("read", 1UL, new byte[] { 0 }) }));
    }

    [TestCase(0, 4, 0x1237_8086u)]
    [TestCase(0, 2, 0x8086u)]
    [TestCase(2, 2, 0x1237u)]
    [TestCase(0, 1, 0x86u)]
    [TestCase(1, 1, 0x80u)]
    [TestCase(2, 1, 0x37u)]
    [TestCase(3, 1, 0x12u)]
    [TestCase(1, 2, 0x3780u)]
    public void Config_data_reads_every_width_at_every_port(int port, int width, uint expected)
    {
        Out(0xcf8, PciConfigCycles.Address(0, 0, 0, 0), 4);
        Assert.That(In((ushort)(0xcfc + port), width), Is.EqualTo(expected));
    }

    [TestCase(0, 1)]
    [TestCase(1, 1)]
    [TestCase(2, 1)]
    [TestCase(3, 1)]
    [TestCase(0, 2)]
    [TestCase(2, 2)]
    [TestCase(0, 4)]
    public void Config_data_writes_reach_the_register_byte_the_port_names(int port, int width)
    {
        // Interrupt line (0x3c) is the one writable byte of its dword: only a write covering byte 0 changes it.
        Out(0xcf8, PciConfigCycles.Address(0, 1, 0, PciHeader.InterruptLine), 4);
        Out((ushort)(0xcfc + port), 0x7777_7777, width);
        Assert.That(PciConfigCycles.Read(_bus.HostBridge, 1, PciHeader.InterruptLine, 1), Is.EqualTo(port == 0 ? 0x77 : 5));
    }

    [Test]
    public void Config_data_reads_all_ones_while_the_enable_bit_is_clear()
    {
        Out(0xcf8, PciConfigCycles.Address(0, 0, 0, 0) & ~PciHostBridge.ConfigAddressEnable, 4);
        Assert.That(In(0xcfc, 4), Is.EqualTo(0xffff_ffff));
    }

    [Test]
    public void Config_data_writes_are_dropped_while_the_enable_bit_is_clear()
    {
        Out(0xcf8, PciConfigCycles.Address(0, 1, 0, PciHeader.InterruptLine) & ~PciHostBridge.ConfigAddressEnable, 4);
        Out(0xcfc, 0x42, 1);
        Assert.That(PciConfigCycles.Read(_bus.HostBridge, 1, PciHeader.InterruptLine, 1), Is.EqualTo(5));
    }

    [TestCase(0, 7, 0, TestName = "An empty slot reads all ones")]
    [TestCase(0, 1, 1, TestName = "A second function reads all ones")]
    [TestCase(1, 0, 0, TestName = "Another bus reads all ones")]
    public void Absent_functions_read_all_ones_at_every_width(int bus, int device, int function)
    {
        Out(0xcf8, PciConfigCycles.Address(bus, device, function, 0), 4);
        Assert.That(In(0xcfc, 4), Is.EqualTo(0xffff_ffff));
        Assert.That(In(0xcfe, 2), Is.EqualTo(0xffff));
        Assert.That(In(0xcff, 1), Is.EqualTo(0xff));
        Out(0xcfc, 0, 4); // dropped, and nothing throws
    }

    [Test]
    public void A_scan_of_bus_0_finds_the_host_bridge_and_the_devices_only()
    {
        var found = new List<int>();
        for (int device = 0; device < PciBus.SlotCount; device++)
        {
            if (PciConfigCycles.Read(_bus.HostBridge, device, PciHeader.VendorId, 2) != 0xffff)
                found.Add(device);
        }
        Assert.That(found, Is.EqualTo(new[] { 0, 1 }));
    }

    [Test]
    public void The_register_number_ignores_the_low_two_bits_of_config_address()
    {
        Out(0xcf8, PciConfigCycles.Address(0, 0, 0, 0) | 3, 4);
        Assert.That(In(0xcfc, 4), Is.EqualTo(0x1237_8086));
    }
}
