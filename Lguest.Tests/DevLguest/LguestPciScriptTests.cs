using System.Buffers.Binary;
using Iced.Intel;
using Lguest.DevLguest;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Lguest.Tests.DevLguest;

/// <summary>
/// Whole conversations on the simulated Host against the real PCI bus: the configuration cycles Linux's
/// pci_conf1_read/write perform through 0xcf8/0xcfc while probing, a driver's MMIO to a BAR, and a queue
/// notification answered by an interrupt, all through emulated instructions.
/// </summary>
public class LguestPciScriptTests
{
    private const ushort ConfigAddress = 0xcf8, ConfigData = 0xcfc;

    private LguestTestBed _bed = null!;
    private PciBus _pci = null!;
    private readonly List<(int Step, uint Mask, uint Expected, string What)> _checks = [];
    private int _steps;

    [SetUp]
    public void SetUp()
    {
        _bed = new LguestTestBed();
        _pci = new PciBus(_bed.Machine, _bed.MmioBus);
        _bed.PortBus.Register(PciHostBridge.PortBase, PciHostBridge.PortCount, _pci.HostBridge);
        _checks.Clear();
        _steps = 0;
    }

    [TearDown]
    public void TearDown() => _bed.Dispose();

    [Test]
    public void Linux_finds_the_host_bridge_and_a_device_through_configuration_mechanism_1()
    {
        var device = new TestPciDevice("virtio", (0, 0x1000, PciBarKind.Memory32));
        int slot = _pci.Add(device);
        uint bar0 = (uint)device.Bars[0].MappedAddress!.Value.Value;
        Assert.That(bar0, Is.GreaterThanOrEqualTo(LguestTestBed.WindowStart), "BARs are placed in the device pages above RAM");

        // pci_check_type1: a byte to 0xcfb, then CONFIG_ADDRESS must hold 0x80000000 once written.
        PortOut(a => a.@out(dx, al), 0xcfb, 0x01);
        PortOut(a => a.@out(dx, eax), ConfigAddress, 0x8000_0000);
        PortIn(a => a.@in(eax, dx), ConfigAddress, 0xffff_ffff, 0x8000_0000, "CONFIG_ADDRESS reads back");
        // The scan: vendor and device of slots 0 to 2 (2 is empty: all ones, a master abort).
        ConfigRead(0, PciHeader.VendorId, 4, 0x1237_8086, "the i440FX host bridge");
        ConfigRead(slot, PciHeader.VendorId, 4, 0x5678_1234, "the device");
        ConfigRead(slot + 1, PciHeader.VendorId, 4, 0xffff_ffff, "an empty slot");
        ConfigRead(slot, PciHeader.HeaderType, 1, 0x00, "a type 0 header");
        ConfigRead(slot, PciHeader.ClassDevice, 2, 0xff00, "the class");
        ConfigRead(slot, PciHeader.InterruptPin, 1, 1, "INTA#");
        ConfigRead(slot, PciHeader.InterruptLine, 1, 5, "routed to interrupt 5");
        // __pci_read_base: decoding off, size BAR0 with all ones, restore it, decoding back on.
        ConfigRead(slot, PciHeader.Command, 2, (uint)PciCommand.MemorySpace, "memory decoding on");
        ConfigWrite(slot, PciHeader.Command, 2, 0);
        ConfigRead(slot, PciHeader.BaseAddress0, 4, bar0, "BAR0's address");
        ConfigWrite(slot, PciHeader.BaseAddress0, 4, 0xffff_ffff);
        ConfigRead(slot, PciHeader.BaseAddress0, 4, 0xffff_f000, "BAR0's size mask: 4 KiB");
        ConfigWrite(slot, PciHeader.BaseAddress0, 4, bar0);
        ConfigWrite(slot, PciHeader.Command, 2, (uint)PciCommand.MemorySpace);
        ConfigRead(slot, PciHeader.BaseAddress0, 4, bar0, "BAR0 restored");
        _bed.Host.Die("end");

        List<LguestTestBed.Exit> exits = _bed.RunToEnd();
        Assert.That(exits, Has.Count.EqualTo(_steps + 1));
        VerifyChecks();
        Assert.That(device.Bars[0].MappedAddress, Is.EqualTo(new GuestAddress(bar0)), "BAR0 decodes where it was");
        Assert.That(_bed.Host.Traps, Is.Empty);
    }

    [Test]
    public void A_driver_reads_and_writes_its_bar_through_emulated_movs()
    {
        var device = new TestPciDevice("virtio", (0, 0x1000, PciBarKind.Memory32));
        _pci.Add(device);
        uint bar0 = (uint)device.Bars[0].MappedAddress!.Value.Value;

        // vp_iowrite8(status, &common->device_status) and friends: writeb/writew/writel, then readl.
        MmioStore(a => a.mov(__byte_ptr[edx], al), bar0 + 0x14, 0x0f);
        MmioStore(a => a.mov(__word_ptr[edx], ax), bar0 + 0x16, 0x0100);
        MmioStore(a => a.mov(__dword_ptr[edx], eax), bar0 + 0x20, 0x0012_3000);
        MmioLoad(a => a.mov(eax, __dword_ptr[edx]), bar0 + 0x0c, 0x5a5a_5a5a, "the register's value");
        _bed.Host.Die("end");

        _bed.RunToEnd();
        VerifyChecks();
        Assert.That(device.Regions[0].Accesses, Is.EqualTo(new[]
        {
            ("write", 0x14UL, new byte[] { 0x0f }),
            ("write", 0x16UL, new byte[] { 0x00, 0x01 }),
            ("write", 0x20UL, new byte[] { 0x00, 0x30, 0x12, 0x00 }),
            ("read", 0x0cUL, new byte[] { 0x5a, 0x5a, 0x5a, 0x5a }),
        }));
    }

    [Test]
    public void A_queue_notification_reaches_the_device_and_its_interrupt_reaches_the_guest_as_lhreq_irq()
    {
        var device = new NotifyingDevice();
        _pci.Add(device);
        uint bar0 = (uint)device.Bars[0].MappedAddress!.Value.Value;

        // vp_notify: iowrite16(queue index, notify address). The device then uses a buffer and interrupts;
        // the guest's vp_interrupt reads the ISR, which lowers the line. A second round raises it again.
        MmioStore(a => a.mov(__word_ptr[edx], ax), bar0 + NotifyingDevice.NotifyOffset, 2);
        MmioLoad(a => a.mov(al, __byte_ptr[edx]), bar0 + NotifyingDevice.IsrOffset, 1, "ISR: a queue interrupt");
        MmioStore(a => a.mov(__word_ptr[edx], ax), bar0 + NotifyingDevice.NotifyOffset, 2);
        MmioLoad(a => a.mov(al, __byte_ptr[edx]), bar0 + NotifyingDevice.IsrOffset, 1, "ISR: a queue interrupt");
        _bed.Host.Die("end");

        for (int round = 0; round < 2; round++)
        {
            Assert.That(_bed.Step().Reason, Is.EqualTo(VcpuExitReason.MmioWrite));
            Assert.That(device.Notified.Wait(timeoutMilliseconds: 0), Is.True, "the write signalled the queue");
            device.UseBufferAndInterrupt();
            Assert.That(_bed.Host.Irqs, Has.Count.EqualTo(round + 1));
            Assert.That(_bed.Step().Reason, Is.EqualTo(VcpuExitReason.MmioRead));
        }
        Assert.That(_bed.Step().Reason, Is.EqualTo(VcpuExitReason.Failed));
        VerifyChecks();
        Assert.That(device.Queues, Is.EqualTo(new[] { 2, 2 }));
        Assert.That(_bed.Host.Irqs, Is.EqualTo(new[] { 5u, 5u }), "each rising edge of INTA# is one LHREQ_IRQ on its routed line");
    }

    private void ConfigRead(int slot, int register, int width, uint expected, string what)
    {
        PortOut(a => a.@out(dx, eax), ConfigAddress, PciConfigCycles.Address(0, slot, 0, register));
        ushort port = (ushort)(ConfigData + (register & 3));
        switch (width)
        {
            case 1: PortIn(a => a.@in(al, dx), port, 0xff, expected, what); break;
            case 2: PortIn(a => a.@in(ax, dx), port, 0xffff, expected, what); break;
            default: PortIn(a => a.@in(eax, dx), port, 0xffff_ffff, expected, what); break;
        }
    }

    private void ConfigWrite(int slot, int register, int width, uint value)
    {
        PortOut(a => a.@out(dx, eax), ConfigAddress, PciConfigCycles.Address(0, slot, 0, register));
        ushort port = (ushort)(ConfigData + (register & 3));
        switch (width)
        {
            case 1: PortOut(a => a.@out(dx, al), port, value); break;
            case 2: PortOut(a => a.@out(dx, ax), port, value); break;
            default: PortOut(a => a.@out(dx, eax), port, value); break;
        }
    }

    private void PortOut(Action<Assembler> emit, ushort port, uint eax)
    {
        _bed.Host.PortIo(GuestCode.Insn(emit), (UserRegs.Edx, port), (UserRegs.Eax, eax));
        _steps++;
    }

    private void PortIn(Action<Assembler> emit, ushort port, uint mask, uint expected, string what)
    {
        // EAX holds garbage before the in: only the accumulator's loaded part is checked.
        _bed.Host.PortIo(GuestCode.Insn(emit), (UserRegs.Edx, port), (UserRegs.Eax, 0xdead_beef));
        _checks.Add((_steps, mask, expected, what));
        _steps++;
    }

    private void MmioStore(Action<Assembler> emit, uint address, uint eax)
    {
        _bed.Host.Mmio(GuestCode.Insn(emit), address, (UserRegs.Edx, address), (UserRegs.Eax, eax));
        _steps++;
    }

    private void MmioLoad(Action<Assembler> emit, uint address, uint expected, string what)
    {
        _bed.Host.Mmio(GuestCode.Insn(emit), address, (UserRegs.Edx, address), (UserRegs.Eax, 0));
        _checks.Add((_steps, 0xffff_ffff, expected, what));
        _steps++;
    }

    /// <summary>Each load's result is in EAX when the guest runs next: the snapshot of the following step.</summary>
    private void VerifyChecks()
    {
        foreach ((int step, uint mask, uint expected, string what) in _checks)
            Assert.That(_bed.Host.RunSnapshots[step + 1][UserRegs.Eax / 4] & mask, Is.EqualTo(expected), what);
    }

    /// <summary>
    /// The part of a virtio-pci device this conversation needs: a notify register that signals the queue's
    /// notifier (what the transport does when the backend refuses notify events), and an ISR that reads as 1
    /// after an interrupt and lowers INTA# when read.
    /// </summary>
    private sealed class NotifyingDevice : PciDevice
    {
        public const uint IsrOffset = 0x400, NotifyOffset = 0x800;

        private int _isr;

        public NotifyingDevice()
            : base("notify", new PciDeviceIdentity(VendorId: 0x1af4, DeviceId: 0x1042, ClassCode: 0x01_00_00, RevisionId: 1, SubsystemVendorId: 0x1af4, SubsystemId: 0x40))
        {
            AddMemoryBar(0, 0x1000, PciBarKind.Memory32, prefetchable: false, new Region(this));
            UseInterruptPin();
        }

        public EventNotifier Notified { get; } = new();

        public List<int> Queues { get; } = [];

        public void UseBufferAndInterrupt()
        {
            _isr = 1;
            SetInterruptLevel(true);
        }

        private sealed class Region(NotifyingDevice device) : IIoDevice
        {
            public void Read(ulong offset, Span<byte> data)
            {
                data.Clear();
                if (offset == IsrOffset)
                {
                    data[0] = (byte)device._isr;
                    device._isr = 0;
                    device.SetInterruptLevel(false);
                }
            }

            public void Write(ulong offset, ReadOnlySpan<byte> data)
            {
                if (offset == NotifyOffset && data.Length == 2)
                {
                    device.Queues.Add(BinaryPrimitives.ReadUInt16LittleEndian(data));
                    device.Notified.Signal();
                }
            }
        }
    }
}
