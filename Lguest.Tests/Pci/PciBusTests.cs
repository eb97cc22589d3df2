using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Tests.Support;

namespace Lguest.Tests.Pci;

public class PciBusTests
{
    private FakeVirtualMachine _machine = null!;
    private IoBus _mmio = null!;
    private PciBus _bus = null!;

    [SetUp]
    public void SetUp()
    {
        _machine = new FakeVirtualMachine(GuestMemoryLayout.WithMmioHole(16 << 20));
        _mmio = new IoBus("mmio");
        _bus = new PciBus(_machine, _mmio);
    }

    [TearDown]
    public void TearDown() => _machine.Dispose();

    private uint Config(int device, int register, int width = 4) => PciConfigCycles.Read(_bus.HostBridge, device, register, width);

    private void SetConfig(int device, int register, uint value, int width = 4) =>
        PciConfigCycles.Write(_bus.HostBridge, device, register, width, value);

    [Test]
    public void The_host_bridge_sits_in_slot_0_as_an_i440FX_host_bridge()
    {
        Assert.That(Config(0, PciHeader.VendorId), Is.EqualTo(0x1237_8086));
        Assert.That(Config(0, PciHeader.RevisionId) >> 8, Is.EqualTo(0x06_00_00));
        Assert.That(Config(0, PciHeader.HeaderType, 1), Is.Zero);
    }

    [Test]
    public void Added_devices_take_slots_in_the_order_of_the_calls()
    {
        Assert.That(_bus.Add(new TestPciDevice("a")), Is.EqualTo(1));
        Assert.That(_bus.Add(new TestPciDevice("b")), Is.EqualTo(2));
        Assert.That(_bus.Devices.Select(d => d.Name), Is.EqualTo(new[] { "host-bridge", "a", "b" }));
    }

    [Test]
    public void A_device_shows_its_identity_and_subsystem()
    {
        int slot = _bus.Add(new TestPciDevice());
        Assert.That(Config(slot, PciHeader.VendorId), Is.EqualTo(0x5678_1234));
        Assert.That(Config(slot, PciHeader.RevisionId), Is.EqualTo(0xff00_0003));
        Assert.That(Config(slot, PciHeader.SubsystemVendorId), Is.EqualTo(0xef01_abcd));
    }

    [Test]
    public void The_identity_registers_are_read_only()
    {
        int slot = _bus.Add(new TestPciDevice());
        SetConfig(slot, PciHeader.VendorId, 0);
        SetConfig(slot, PciHeader.RevisionId, 0);
        SetConfig(slot, PciHeader.SubsystemVendorId, 0);
        SetConfig(slot, PciHeader.InterruptPin, 0, 1);
        Assert.That(Config(slot, PciHeader.VendorId), Is.EqualTo(0x5678_1234));
        Assert.That(Config(slot, PciHeader.RevisionId), Is.EqualTo(0xff00_0003));
        Assert.That(Config(slot, PciHeader.SubsystemVendorId), Is.EqualTo(0xef01_abcd));
        Assert.That(Config(slot, PciHeader.InterruptPin, 1), Is.EqualTo(1));
    }

    [Test]
    public void The_command_register_keeps_only_the_bits_software_may_set()
    {
        int slot = _bus.Add(new TestPciDevice());
        SetConfig(slot, PciHeader.Command, 0xffff, 2);
        Assert.That(Config(slot, PciHeader.Command, 2), Is.EqualTo(0x0547));
    }

    [Test]
    public void Status_error_bits_clear_when_one_is_written_and_the_rest_are_read_only()
    {
        var device = new TestPciDevice();
        int slot = _bus.Add(device);
        device.Configuration.SetUInt16(PciHeader.Status, (ushort)(PciStatus.ReceivedMasterAbort | PciStatus.SignaledSystemError | PciStatus.CapabilityList));
        SetConfig(slot, PciHeader.Status, (uint)PciStatus.ReceivedMasterAbort, 2);
        Assert.That(Config(slot, PciHeader.Status, 2), Is.EqualTo((uint)(PciStatus.SignaledSystemError | PciStatus.CapabilityList)));
        SetConfig(slot, PciHeader.Status, 0, 2);
        Assert.That(Config(slot, PciHeader.Status, 2), Is.EqualTo((uint)(PciStatus.SignaledSystemError | PciStatus.CapabilityList)));
    }

    [Test]
    public void Cache_line_size_and_interrupt_line_are_scratch_registers_for_software()
    {
        int slot = _bus.Add(new TestPciDevice());
        SetConfig(slot, PciHeader.CacheLineSize, 0x10, 1);
        SetConfig(slot, PciHeader.InterruptLine, 0x42, 1);
        Assert.That(Config(slot, PciHeader.CacheLineSize, 1), Is.EqualTo(0x10));
        Assert.That(Config(slot, PciHeader.LatencyTimer, 1), Is.Zero);
        Assert.That(Config(slot, PciHeader.InterruptLine, 1), Is.EqualTo(0x42));
    }

    [Test]
    public void Bars_are_placed_in_the_mmio_window_naturally_aligned()
    {
        int slot = _bus.Add(new TestPciDevice("a", (0, 0x1000, PciBarKind.Memory32)));
        var b = new TestPciDevice("b", (0, 0x4000, PciBarKind.Memory64), (2, 0x10000, PciBarKind.Memory64));
        _bus.Add(b);

        ulong window = _machine.Memory.Layout.MmioWindow.Start.Value;
        Assert.That(Config(slot, PciHeader.BaseAddress0), Is.EqualTo((uint)window));
        foreach (PciBar bar in b.Bars)
        {
            ulong at = bar.MappedAddress!.Value.Value;
            Assert.That(at % bar.Size, Is.Zero, bar.ToString());
            Assert.That(_machine.Memory.Layout.MmioWindow.Contains(new GuestAddress(at), bar.Size), Is.True, bar.ToString());
        }
        Assert.That(b.Bars[0].MappedAddress, Is.Not.EqualTo(b.Bars[1].MappedAddress));
    }

    [Test]
    public void Adding_a_device_enables_memory_decoding_so_its_bars_answer()
    {
        var device = new TestPciDevice("a", (0, 0x1000, PciBarKind.Memory32));
        int slot = _bus.Add(device);
        Assert.That(Config(slot, PciHeader.Command, 2) & (uint)PciCommand.MemorySpace, Is.Not.Zero);

        ulong at = device.Bars[0].MappedAddress!.Value.Value;
        Assert.That(_mmio.TryWrite(at + 0x10, [1, 2, 3, 4]), Is.True);
        Assert.That(device.Regions[0].Accesses.Single(), Is.EqualTo(("write", 0x10UL, new byte[] { 1, 2, 3, 4 })));
    }

    [Test]
    public void Writing_all_ones_to_a_32_bit_bar_reads_back_its_size_mask()
    {
        int slot = _bus.Add(new TestPciDevice("a", (1, 0x4000, PciBarKind.Memory32)));
        SetConfig(slot, PciHeader.BaseAddress0 + 4, 0xffff_ffff);
        Assert.That(Config(slot, PciHeader.BaseAddress0 + 4), Is.EqualTo(0xffff_c000));
    }

    [Test]
    public void Writing_all_ones_to_a_64_bit_bar_reads_back_its_size_mask_in_both_halves()
    {
        int slot = _bus.Add(new TestPciDevice("a", (0, 0x4000, PciBarKind.Memory64)));
        SetConfig(slot, PciHeader.BaseAddress0, 0xffff_ffff);
        SetConfig(slot, PciHeader.BaseAddress0 + 4, 0xffff_ffff);
        Assert.That(Config(slot, PciHeader.BaseAddress0), Is.EqualTo(0xffff_c004));
        Assert.That(Config(slot, PciHeader.BaseAddress0 + 4), Is.EqualTo(0xffff_ffff));
    }

    [Test]
    public void Unimplemented_bars_and_the_rom_register_read_zero_after_all_ones()
    {
        int slot = _bus.Add(new TestPciDevice("a", (0, 0x4000, PciBarKind.Memory64)));
        for (int bar = 2; bar < PciHeader.BarCount; bar++)
        {
            SetConfig(slot, PciHeader.BaseAddress0 + 4 * bar, 0xffff_ffff);
            Assert.That(Config(slot, PciHeader.BaseAddress0 + 4 * bar), Is.Zero, $"BAR{bar}");
        }
        SetConfig(slot, PciHeader.RomAddress, 0xffff_ffff);
        Assert.That(Config(slot, PciHeader.RomAddress), Is.Zero);
    }

    [Test]
    public void Sizing_a_64_bit_bar_while_it_decodes_stops_decoding_until_the_address_is_restored()
    {
        var device = new TestPciDevice("a", (0, 0x4000, PciBarKind.Memory64));
        int slot = _bus.Add(device);
        ulong at = device.Bars[0].MappedAddress!.Value.Value;

        SetConfig(slot, PciHeader.BaseAddress0, 0xffff_ffff);
        SetConfig(slot, PciHeader.BaseAddress0 + 4, 0xffff_ffff);
        Assert.That(device.Bars[0].MappedAddress, Is.Null);

        SetConfig(slot, PciHeader.BaseAddress0, (uint)at);
        SetConfig(slot, PciHeader.BaseAddress0 + 4, (uint)(at >> 32));
        Assert.That(device.Bars[0].MappedAddress, Is.EqualTo(new GuestAddress(at)));
        Assert.That(_mmio.TryRead(at, new byte[4]), Is.True);
    }

    [Test]
    public void Moving_a_bar_moves_its_range_on_the_mmio_bus_and_tells_the_device()
    {
        var device = new TestPciDevice("a", (0, 0x1000, PciBarKind.Memory32));
        int slot = _bus.Add(device);
        ulong old = device.Bars[0].MappedAddress!.Value.Value;
        const ulong moved = 0xd000_0000;

        SetConfig(slot, PciHeader.BaseAddress0, (uint)moved);

        Assert.That(_mmio.TryRead(old, new byte[4]), Is.False);
        Assert.That(_mmio.TryRead(moved + 4, new byte[4]), Is.True);
        Assert.That(device.Regions[0].Accesses.Single().Offset, Is.EqualTo(4UL));
        Assert.That(device.Mappings[^1], Is.EqualTo((0, (GuestAddress?)new GuestAddress(old), (GuestAddress?)new GuestAddress(moved))));
    }

    [Test]
    public void Clearing_memory_space_stops_decoding_and_setting_it_restores_decoding()
    {
        var device = new TestPciDevice("a", (0, 0x1000, PciBarKind.Memory32));
        int slot = _bus.Add(device);
        ulong at = device.Bars[0].MappedAddress!.Value.Value;

        SetConfig(slot, PciHeader.Command, 0, 2);
        Assert.That(_mmio.TryRead(at, new byte[4]), Is.False);
        Assert.That(device.Mappings[^1].Now, Is.Null);

        SetConfig(slot, PciHeader.Command, (uint)PciCommand.MemorySpace, 2);
        Assert.That(_mmio.TryRead(at, new byte[4]), Is.True);
        Assert.That(device.Mappings[^1].Now, Is.EqualTo(new GuestAddress(at)));
    }

    [Test]
    public void A_bar_moved_onto_another_device_does_not_decode_and_nothing_throws()
    {
        var a = new TestPciDevice("a", (0, 0x1000, PciBarKind.Memory32));
        var b = new TestPciDevice("b", (0, 0x1000, PciBarKind.Memory32));
        _bus.Add(a);
        int slotB = _bus.Add(b);
        ulong atA = a.Bars[0].MappedAddress!.Value.Value;

        SetConfig(slotB, PciHeader.BaseAddress0, (uint)atA);

        Assert.That(b.Bars[0].MappedAddress, Is.Null);
        _mmio.TryRead(atA, new byte[4]);
        Assert.That(a.Regions[0].Accesses, Has.Count.EqualTo(1));
        Assert.That(b.Regions[0].Accesses, Is.Empty);
    }

    [Test]
    public void A_full_bus_is_refused()
    {
        for (int i = 1; i < PciBus.SlotCount; i++)
            _bus.Add(new TestPciDevice($"d{i}"));
        Assert.That(() => _bus.Add(new TestPciDevice("one-too-many")),
            Throws.TypeOf<PciException>().With.Message.Contains("one-too-many"));
    }

    [Test]
    public void Bars_that_do_not_fit_the_window_are_refused()
    {
        using var machine = new FakeVirtualMachine(GuestMemoryLayout.Flat(1 << 20, mmioWindowSize: 0x8000));
        var bus = new PciBus(machine, new IoBus("mmio"));
        bus.Add(new TestPciDevice("a", (0, 0x4000, PciBarKind.Memory64)));
        Assert.That(() => bus.Add(new TestPciDevice("b", (0, 0x8000, PciBarKind.Memory64))),
            Throws.TypeOf<PciException>().With.Message.Contains("no room"));
    }

    [Test]
    public void A_device_cannot_join_two_buses()
    {
        var device = new TestPciDevice();
        _bus.Add(device);
        Assert.That(() => _bus.Add(device), Throws.InvalidOperationException);
    }
}
