using Lguest.Pci;
using Lguest.Platform;
using Lguest.Snapshot;
using Lguest.Tests.Support;

namespace Lguest.Tests.Snapshot;

/// <summary>The platform devices' and PCI's state records: captured, encoded, decoded, restored, and refused when bad.</summary>
public class DeviceStateRecordTests
{
    private const int Ier = 1, Iir = 2, Fcr = 2, Lcr = 3, Mcr = 4, Lsr = 5, Scr = 7;

    private static byte Read(Uart16550 uart, int register)
    {
        Span<byte> b = stackalloc byte[1];
        uart.Read((ulong)register, b);
        return b[0];
    }

    private static void Write(Uart16550 uart, int register, byte value) => uart.Write((ulong)register, [value]);

    [Test]
    public void A_uart_restored_from_its_record_has_its_registers_input_and_interrupt()
    {
        var uart = new Uart16550(new RecordingInterruptLine(4), output: null);
        Write(uart, Lcr, 0x80);
        Write(uart, 0, 0x01); // divisor 1: 115200 baud
        Write(uart, Lcr, 0x03);
        Write(uart, Fcr, 0xC7);
        Write(uart, Mcr, 0x0B);
        Write(uart, Scr, 0x5A);
        Write(uart, Ier, 0x01);
        uart.Receive("hi"u8);

        UartState record = UartState.Decode(uart.CaptureState().Encode());
        var line = new RecordingInterruptLine(4);
        var restored = new Uart16550(line, output: null);
        restored.RestoreState(record);

        Assert.That(line.IsAsserted, Is.True, "received data with its interrupt enabled raises the line");
        Assert.That((Read(restored, Lcr), Read(restored, Mcr), Read(restored, Scr), Read(restored, Ier)), Is.EqualTo(((byte)0x03, (byte)0x0B, (byte)0x5A, (byte)0x01)));
        Assert.That(Read(restored, Iir) & 0xC0, Is.EqualTo(0xC0), "the FIFOs stay enabled");
        Assert.That((Read(restored, 0), Read(restored, 0)), Is.EqualTo(((byte)'h', (byte)'i')));
        Assert.That(Read(restored, Lsr) & 1, Is.Zero);
        Write(restored, Lcr, 0x83);
        Assert.That(Read(restored, 0), Is.EqualTo(1), "the divisor came along");
    }

    [Test]
    public void A_uart_paused_while_its_driver_waits_for_thr_empty_raises_that_interrupt_again_after_restore()
    {
        // Linux's 8250 driver with bytes in its transmit buffer: THRE's interrupt enabled and pending, not yet taken.
        var uart = new Uart16550(new RecordingInterruptLine(4), output: null);
        Write(uart, Fcr, 0x07);
        Write(uart, Ier, 0x02);

        var line = new RecordingInterruptLine(4);
        var restored = new Uart16550(line, output: null);
        restored.RestoreState(UartState.Decode(uart.CaptureState().Encode()));

        Assert.That(line.IsAsserted, Is.True, "the interrupt the driver waits for is raised: its buffer goes out");
        Assert.That(Read(restored, Iir) & 0x0F, Is.EqualTo(0x02), "and IIR names it");
        Assert.That(line.IsAsserted, Is.False, "reading IIR took it, as on the paused UART");
        Assert.That(Read(restored, Lsr) & 0x60, Is.EqualTo(0x60), "THR and the transmitter are empty");
    }

    [Test]
    public void A_uart_record_with_bits_a_16550a_lacks_is_refused()
    {
        byte[] record = new Uart16550(null, null).CaptureState().Encode();
        record[0] = 0xF1; // IER's top nibble does not exist
        Assert.That(() => UartState.Decode(record), Throws.TypeOf<SnapshotException>().With.Message.EqualTo("the UART's state: a register holds bits a 16550A does not have"));
    }

    [Test]
    public void A_uart_record_with_more_input_than_the_uart_holds_is_refused()
    {
        var writer = new SnapshotStateWriter();
        writer.WriteRaw(new byte[7]);
        writer.WriteUInt16(12);
        writer.WriteBoolean(false);
        writer.WriteBytes(new byte[Uart16550.ReceiveBufferSize + 1]);
        Assert.That(() => UartState.Decode(writer.ToArray()), Throws.TypeOf<SnapshotException>().With.Message.EqualTo($"the UART's state: {Uart16550.ReceiveBufferSize + 1} bytes, more than {Uart16550.ReceiveBufferSize}"));
    }

    [Test]
    public void The_rtc_keeps_its_cmos_ram_and_index()
    {
        var rtc = new CmosRtc(64 << 20, 0, 1);
        rtc.Write(0, [0x40]);
        rtc.Write(1, [0x99]);
        rtc.Write(0, [0x41]);
        CmosRtcState record = CmosRtcState.Decode(rtc.CaptureState().Encode());
        var restored = new CmosRtc(128 << 20, 0, 2); // other memory sizes: the snapshot's bytes win
        restored.RestoreState(record);
        byte[] value = new byte[1];
        restored.Write(0, [0x40]);
        restored.Read(1, value);
        Assert.That(value[0], Is.EqualTo(0x99));
        restored.Write(0, [0x5F]);
        restored.Read(1, value);
        Assert.That(value[0], Is.Zero, "the CPU count byte is the snapshot's (one CPU)");
    }

    [Test]
    public void An_rtc_record_of_another_size_is_refused() =>
        Assert.That(() => CmosRtcState.Decode(new CmosRtcState(0, new byte[64]).Encode()),
            Throws.TypeOf<SnapshotException>().With.Message.EqualTo("the RTC's state: index 0 or 64 bytes of CMOS RAM (a CMOS has 128)"));

    [Test]
    public void The_acpi_registers_come_back_without_a_sleep_in_progress()
    {
        var power = new Moq.Mock<IPowerControl>(Moq.MockBehavior.Strict);
        var pm = new AcpiPmRegisters(power.Object);
        pm.Write(2, [0x21, 0x01]); // PM1_EN
        var restored = new AcpiPmRegisters(power.Object);
        restored.RestoreState(AcpiPmState.Decode(pm.CaptureState().Encode()));
        byte[] data = new byte[6];
        restored.Read(0, data);
        Assert.That(data, Is.EqualTo(new byte[] { 0, 0, 0x21, 0x01, 0x01, 0 }));
        restored.RestoreState(new AcpiPmState(0, 0, 0x2000 | (5 << 10)));
        restored.Read(4, data.AsSpan(0, 2));
        Assert.That(data[..2], Is.EqualTo(new byte[] { 0x01, 0x14 }), "SLP_EN dropped, SCI_EN kept");
    }

    [Test]
    public void A_pci_device_takes_back_its_programmed_registers_and_decodes_its_bar_there()
    {
        var mmio = new Lguest.Hypervisor.IoBus("mmio");
        var machine = new FakeVirtualMachine(Lguest.Memory.GuestMemoryLayout.WithMmioHole(64 << 20));
        var bus = new PciBus(machine, mmio);
        var device = new TestPciDevice("dev", (0, 0x1000, PciBarKind.Memory32));
        bus.Add(device);
        device.WriteConfiguration(PciHeader.BaseAddress0, BitConverter.GetBytes(0xC000_0000u));
        device.WriteConfiguration(PciHeader.Command, BitConverter.GetBytes((ushort)PciCommand.MemorySpace));
        byte[] config = device.CaptureConfiguration();

        var bus2 = new PciBus(new FakeVirtualMachine(Lguest.Memory.GuestMemoryLayout.WithMmioHole(64 << 20)), new Lguest.Hypervisor.IoBus("mmio"));
        var again = new TestPciDevice("dev", (0, 0x1000, PciBarKind.Memory32));
        bus2.Add(again);
        again.RestoreConfiguration(config);
        Assert.That(again.Bars[0].MappedAddress?.Value, Is.EqualTo(0xC000_0000UL));
        Assert.That(again.Command, Is.EqualTo(PciCommand.MemorySpace));
    }

    [Test]
    public void A_pci_configuration_of_another_device_is_refused_with_the_byte_that_differs()
    {
        byte[] config = new TestPciDevice("dev").CaptureConfiguration();
        config[0] ^= 1; // vendor ID
        var device = new TestPciDevice("dev");
        var error = Assert.Throws<SnapshotException>(() => device.RestoreConfiguration(config))!;
        Assert.That((error.Reason, error.Message), Is.EqualTo((SnapshotRefusal.Incompatible,
            "PCI device dev: configuration byte 0x00 is 0x35 in the snapshot and 0x34 here, in bits software cannot change")));
    }

    [Test]
    public void An_msix_table_restored_programs_the_unmasked_vectors_and_sends_their_pending_messages()
    {
        var config = new PciConfigurationSpace();
        RecordingMsiRoute[] routes = [new(), new(), new()];
        using var msix = new MsixCapability(config, 0, 0x4000, 0x5000, routes);
        msix.WriteTable(0, BitConverter.GetBytes(0xFEE0_0000UL));
        msix.WriteTable(8, BitConverter.GetBytes(0x41u));
        msix.WriteTable(16 + 12, BitConverter.GetBytes(0u)); // vector 1 unmasked, no message
        MsixState captured = msix.CaptureState();
        MsixState record = MsixState.Decode((captured with { Pending = [0b001] }).Encode());

        var config2 = new PciConfigurationSpace();
        RecordingMsiRoute[] routes2 = [new(), new(), new()];
        using var restored = new MsixCapability(config2, 0, 0x4000, 0x5000, routes2);
        config2.Write(restored.Offset + MsixCapability.MessageControl + 1, [MsixCapability.ControlEnable >> 8]);
        restored.RestoreState(record with { Entries = [record.Entries[0] with { VectorControl = 0 }, record.Entries[1], record.Entries[2]] });
        Assert.That(routes2[0].Message, Is.EqualTo((0xFEE0_0000UL, 0x41u)));
        Assert.That(routes2[0].Sent, Is.EqualTo(new[] { (0xFEE0_0000UL, 0x41u) }), "vector 0's pending message went");
        Assert.That(routes2[2].Message, Is.Null, "a masked vector waits");
    }

    [Test]
    public void An_msix_record_whose_pending_words_do_not_fit_its_vectors_is_refused()
    {
        byte[] record = new MsixState([new MsixEntryState(0, 0, 1)], [0, 0]).Encode();
        Assert.That(() => MsixState.Decode(record), Throws.TypeOf<SnapshotException>().With.Message.EqualTo("an MSI-X table's state: 2 pending words for 1 vectors"));
    }
}
