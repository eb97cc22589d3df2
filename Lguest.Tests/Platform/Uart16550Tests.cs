using Lguest.Platform;
using Lguest.Tests.Support;

namespace Lguest.Tests.Platform;

/// <summary>The 16550A's registers as the PC16550D datasheet describes them.</summary>
public class Uart16550Tests
{
    private const ulong Rbr = 0, Thr = 0, Ier = 1, Iir = 2, Fcr = 2, Lcr = 3, Mcr = 4, Lsr = 5, Msr = 6, Scr = 7;

    private readonly RecordingInterruptLine _irq = new(4);
    private MemoryStream _output = null!;
    private Uart16550 _uart = null!;

    [SetUp]
    public void SetUp()
    {
        _output = new MemoryStream();
        _uart = new Uart16550(_irq, _output);
    }

    private byte In(ulong register)
    {
        Span<byte> b = stackalloc byte[1];
        _uart.Read(register, b);
        return b[0];
    }

    private void Out(ulong register, byte value) => _uart.Write(register, [value]);

    [Test]
    public void A_byte_written_to_THR_reaches_the_host_output()
    {
        Out(Thr, (byte)'h');
        Out(Thr, (byte)'i');
        Assert.That(_output.ToArray(), Is.EqualTo("hi"u8.ToArray()));
    }

    [Test]
    public void LSR_shows_the_transmitter_empty_and_no_data_at_reset()
    {
        Assert.That(In(Lsr), Is.EqualTo(0x60));
    }

    [Test]
    public void IIR_reads_no_interrupt_pending_at_reset()
    {
        Assert.That(In(Iir), Is.EqualTo(0x01));
        Assert.That(_irq.IsAsserted, Is.False);
    }

    [Test]
    public void Enabling_the_THR_empty_interrupt_with_THR_empty_raises_it_at_once()
    {
        Out(Ier, 0x02);
        Assert.That(_irq.IsAsserted, Is.True);
        Assert.That(In(Iir), Is.EqualTo(0x02));
    }

    [Test]
    public void Reading_IIR_that_reports_THR_empty_clears_that_interrupt()
    {
        Out(Ier, 0x02);
        _ = In(Iir);
        Assert.That(_irq.IsAsserted, Is.False);
        Assert.That(In(Iir), Is.EqualTo(0x01));
    }

    [Test]
    public void Each_THR_write_raises_a_new_THR_empty_edge()
    {
        Out(Ier, 0x02);
        int edges = _irq.RisingEdges;
        Out(Thr, (byte)'a');
        Out(Thr, (byte)'b');
        Assert.That(_irq.RisingEdges, Is.EqualTo(edges + 2));
        Assert.That(_irq.IsAsserted, Is.True);
    }

    [Test]
    public void Received_data_sets_data_ready_and_reads_back_in_order()
    {
        Assert.That(_uart.Receive("ok"u8), Is.True);
        Assert.That(In(Lsr) & 0x01, Is.EqualTo(1));
        Assert.That(In(Rbr), Is.EqualTo((byte)'o'));
        Assert.That(In(Rbr), Is.EqualTo((byte)'k'));
        Assert.That(In(Lsr) & 0x01, Is.Zero);
    }

    [Test]
    public void Received_data_interrupt_outranks_THR_empty()
    {
        Out(Ier, 0x03);
        _uart.Receive("x"u8);
        Assert.That(In(Iir), Is.EqualTo(0x04));
        _ = In(Rbr);
        Assert.That(In(Iir), Is.EqualTo(0x02), "THR empty is reported once the data is read");
    }

    [Test]
    public void With_FIFOs_fewer_bytes_than_the_trigger_level_report_a_character_timeout()
    {
        Out(Fcr, 0xC1); // enable, trigger 14
        Out(Ier, 0x01);
        _uart.Receive("abc"u8);
        Assert.That(In(Iir), Is.EqualTo(0xCC));
    }

    [Test]
    public void With_FIFOs_the_trigger_level_reached_reports_received_data_available()
    {
        Out(Fcr, 0x41); // enable, trigger 4
        Out(Ier, 0x01);
        _uart.Receive("abcd"u8);
        Assert.That(In(Iir), Is.EqualTo(0xC4));
    }

    [Test]
    public void FCR_receive_reset_empties_the_receive_buffer()
    {
        Out(Fcr, 0x01);
        _uart.Receive("abc"u8);
        Out(Fcr, 0x03);
        Assert.That(In(Lsr) & 0x01, Is.Zero);
    }

    [Test]
    public void DLAB_switches_offsets_0_and_1_to_the_divisor_latch()
    {
        Out(Lcr, 0x80);
        Out(0, 0x01);
        Out(1, 0x02);
        Assert.That((In(0), In(1)), Is.EqualTo(((byte)1, (byte)2)));
        Out(Lcr, 0x03);
        Assert.That(In(Ier), Is.Zero, "IER untouched by divisor writes");
        Assert.That(_output.Length, Is.Zero, "divisor writes are not transmitted");
    }

    [Test]
    public void The_scratch_register_keeps_its_value()
    {
        Out(Scr, 0xA5);
        Assert.That(In(Scr), Is.EqualTo(0xA5));
    }

    [Test]
    public void Loopback_returns_transmitted_bytes_to_the_receiver_and_not_the_host()
    {
        Out(Mcr, 0x10);
        Out(Thr, 0x5A);
        Assert.That(In(Rbr), Is.EqualTo(0x5A));
        Assert.That(_output.Length, Is.Zero);
    }

    [Test]
    public void Loopback_wires_MCR_outputs_to_MSR_inputs_as_Linux_autoconfig_expects()
    {
        Out(Mcr, 0x1A); // LOOP | OUT2 | RTS
        Assert.That(In(Msr) & 0xF0, Is.EqualTo(0x90));
    }

    [Test]
    public void MSR_delta_bits_clear_when_read()
    {
        Out(Mcr, 0x10); // loopback with everything off: CTS, DSR, DCD drop
        Assert.That(In(Msr) & 0x0F, Is.Not.Zero);
        Assert.That(In(Msr) & 0x0F, Is.Zero);
    }

    [Test]
    public void A_modem_status_change_interrupts_when_enabled()
    {
        Out(Ier, 0x08);
        Out(Mcr, 0x10);
        Assert.That(In(Iir), Is.EqualTo(0x00));
        _ = In(Msr);
        Assert.That(In(Iir), Is.EqualTo(0x01));
    }

    [Test]
    public void Reading_an_empty_receiver_returns_zero()
    {
        Assert.That(In(Rbr), Is.Zero);
    }

    [Test]
    public void Accesses_beyond_the_eight_registers_are_ignored()
    {
        Span<byte> b = stackalloc byte[1];
        _uart.Read(9, b);
        _uart.Write(9, [1]);
        Assert.That(b[0], Is.Zero);
    }

    [Test]
    public void Receive_blocks_when_the_buffer_is_full_until_the_guest_reads()
    {
        _uart.Receive(new byte[Uart16550.ReceiveBufferSize]);
        var more = Task.Run(() => _uart.Receive("z"u8));
        Assert.That(more.Wait(200), Is.False, "the host side waits for room");
        _ = In(Rbr);
        Assert.That(more.Wait(5000), Is.True);
        Assert.That(_uart.PendingInput, Is.EqualTo(Uart16550.ReceiveBufferSize));
    }

    [Test]
    public void Close_releases_a_blocked_receive()
    {
        _uart.Receive(new byte[Uart16550.ReceiveBufferSize]);
        var more = Task.Run(() => _uart.Receive("z"u8));
        _uart.Close();
        Assert.That(more.Wait(5000) && !more.Result, Is.True);
    }
}
