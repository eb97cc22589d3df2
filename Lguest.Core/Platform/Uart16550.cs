using Lguest.Hypervisor;

namespace Lguest.Platform;

/// <summary>
/// A 16550A UART (National Semiconductor PC16550D datasheet), as the PC's COM1 at 0x3f8 on IRQ 4:
/// all eight registers with the divisor latch, FIFOs, loopback, and interrupt-driven transmit and
/// receive with the datasheet's IIR priorities. Transmission is instantaneous: a byte written to THR
/// goes straight to the host, so THR and the transmitter are always empty. Host input waits in a
/// bounded receive buffer the guest drains through RBR; the host side blocks when it is full.
/// </summary>
/// <remarks>
/// Threat model: every register access comes from the guest; no value it writes can make the device
/// allocate, loop or index outside its state. The interrupt line is level-style: asserted while any
/// enabled interrupt is pending, lowered otherwise (an ISA edge for the PIC/IOAPIC each time it rises).
/// </remarks>
public sealed class Uart16550 : IIoDevice
{
    /// <summary>COM1's base port.</summary>
    public const ushort Com1Port = 0x3F8;

    /// <summary>COM1's ISA interrupt.</summary>
    public const int Com1Irq = 4;

    /// <summary>The eight registers' span of ports.</summary>
    public const int PortCount = 8;

    /// <summary>How many host bytes wait for the guest before the host side blocks: a screenful of paste.</summary>
    public const int ReceiveBufferSize = 4096;

    /// <summary>The receive FIFO's depth, which the trigger level is measured against.</summary>
    public const int FifoDepth = 16;

    // Register offsets (datasheet Table II).
    private const int Rbr = 0, Thr = 0, Dll = 0, Ier = 1, Dlm = 1, Iir = 2, Fcr = 2, Lcr = 3, Mcr = 4, Lsr = 5, Msr = 6, Scr = 7;

    // IER bits.
    private const byte IerRxData = 0x01, IerThrEmpty = 0x02, IerLineStatus = 0x04, IerModemStatus = 0x08;

    // IIR values (bits 3:0) in priority order, and the FIFO-enabled bits 7:6.
    private const byte IirNone = 0x01, IirLineStatus = 0x06, IirRxData = 0x04, IirCharTimeout = 0x0C, IirThrEmpty = 0x02, IirModemStatus = 0x00;
    private const byte IirFifoEnabled = 0xC0;

    // FCR bits.
    private const byte FcrEnable = 0x01, FcrClearRx = 0x02; // FCR bit 2 clears the transmitter, which is always empty

    // LCR, MCR, LSR, MSR bits.
    private const byte LcrDlab = 0x80;
    private const byte McrDtr = 0x01, McrRts = 0x02, McrOut1 = 0x04, McrOut2 = 0x08, McrLoop = 0x10;
    private const byte LsrDataReady = 0x01, LsrOverrun = 0x02, LsrErrors = 0x1E, LsrThrEmpty = 0x20, LsrTransmitterEmpty = 0x40;
    private const byte MsrDcts = 0x01, MsrDdsr = 0x02, MsrTeri = 0x04, MsrDdcd = 0x08;
    private const byte MsrCts = 0x10, MsrDsr = 0x20, MsrRi = 0x40, MsrDcd = 0x80;

    private readonly object _lock = new(); // a monitor: Receive waits on it for room
    private readonly IInterruptLine? _irq;
    private readonly Stream? _output;
    private readonly byte[] _rx = new byte[ReceiveBufferSize];
    private int _rxHead, _rxCount;

    private byte _ier, _lcr, _mcr, _lsrErrors, _msr, _scr, _fcr;
    private ushort _divisor = 12; // 9600 baud from the 1.8432 MHz clock, as a BIOS leaves it
    private bool _thrInterrupt;
    private bool _irqRaised;
    private bool _closed;

    /// <summary>Creates the UART.</summary>
    /// <param name="irq">The interrupt line it drives, or null for a polled UART.</param>
    /// <param name="output">Where transmitted bytes go, or null to drop them.</param>
    public Uart16550(IInterruptLine? irq, Stream? output)
    {
        _irq = irq;
        _output = output;
        // Not in loopback: the host side is a connected, ready terminal (DCD, DSR, CTS).
        _msr = MsrDcd | MsrDsr | MsrCts;
    }

    /// <summary>How many received bytes wait for the guest.</summary>
    public int PendingInput
    {
        get
        {
            lock (_lock)
                return _rxCount;
        }
    }

    /// <inheritdoc />
    public void Read(ulong offset, Span<byte> data)
    {
        if (data.IsEmpty)
            return;
        // Registers are bytes; a wider access reads the first and zero-fills the rest.
        data.Clear();
        if (offset >= PortCount)
            return;
        lock (_lock)
            data[0] = ReadRegister((int)offset);
    }

    /// <inheritdoc />
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty || offset >= PortCount)
            return;
        lock (_lock)
            WriteRegister((int)offset, data[0]);
    }

    /// <summary>
    /// Queues host input for the guest, blocking while the receive buffer is full. Returns false
    /// when the UART was closed or <paramref name="cancellation"/> fired before all of it was queued.
    /// </summary>
    public bool Receive(ReadOnlySpan<byte> input, CancellationToken cancellation = default)
    {
        int index = 0;
        while (index < input.Length)
        {
            lock (_lock)
            {
                while (_rxCount == ReceiveBufferSize && !_closed && !cancellation.IsCancellationRequested)
                    Monitor.Wait(_lock, TimeSpan.FromMilliseconds(100));
                if (_closed || cancellation.IsCancellationRequested)
                    return false;
                while (index < input.Length && _rxCount < ReceiveBufferSize)
                    PushReceived(input[index++]);
                UpdateInterrupt();
            }
        }
        return true;
    }

    /// <summary>Wakes and refuses every blocked or later <see cref="Receive"/>: the guest is gone.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>The registers and unread input, for a snapshot. Call while the guest is paused.</summary>
    public UartState CaptureState()
    {
        lock (_lock)
        {
            var pending = new byte[_rxCount];
            for (int i = 0; i < _rxCount; i++)
                pending[i] = _rx[(_rxHead + i) % ReceiveBufferSize];
            return new UartState(_ier, _lcr, _mcr, _lsrErrors, _msr, _scr, _fcr, _divisor, _thrInterrupt, pending);
        }
    }

    /// <summary>Takes the registers and unread input of <paramref name="state"/>, and drives the interrupt line to match.</summary>
    public void RestoreState(UartState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.PendingInput.Length > ReceiveBufferSize)
            throw new ArgumentException($"{state.PendingInput.Length} bytes of input, more than the {ReceiveBufferSize} the UART holds", nameof(state));
        lock (_lock)
        {
            (_ier, _lcr, _mcr, _lsrErrors, _msr, _scr, _fcr, _divisor, _thrInterrupt) = (
                (byte)(state.InterruptEnable & 0x0F), state.LineControl, (byte)(state.ModemControl & 0x1F), (byte)(state.LineStatusErrors & 0x1E),
                state.ModemStatus, state.Scratch, (byte)(state.FifoControl & 0xC9), state.Divisor, state.TransmitterEmptyInterrupt);
            _rxHead = 0;
            _rxCount = state.PendingInput.Length;
            state.PendingInput.Span.CopyTo(_rx);
            UpdateInterrupt();
        }
    }

    private bool Dlab => (_lcr & LcrDlab) != 0;

    private bool Loopback => (_mcr & McrLoop) != 0;

    private bool FifoEnabled => (_fcr & FcrEnable) != 0;

    private int TriggerLevel => FifoEnabled ? ((_fcr >> 6) switch { 0 => 1, 1 => 4, 2 => 8, _ => 14 }) : 1;

    private byte ReadRegister(int register)
    {
        switch (register)
        {
            case Rbr when Dlab:
                return (byte)_divisor;
            case Rbr:
                return PopReceived();
            case Ier when Dlab:
                return (byte)(_divisor >> 8);
            case Ier:
                return _ier;
            case Iir:
                byte iir = PendingInterrupt();
                // Reading IIR while it reports THR empty acknowledges that interrupt (datasheet Table IV).
                if (iir == IirThrEmpty)
                {
                    _thrInterrupt = false;
                    UpdateInterrupt();
                }
                return (byte)(iir | (FifoEnabled ? IirFifoEnabled : 0));
            case Lcr:
                return _lcr;
            case Mcr:
                return _mcr;
            case Lsr:
                byte lsr = (byte)(LsrThrEmpty | LsrTransmitterEmpty | _lsrErrors | (_rxCount > 0 ? LsrDataReady : 0));
                // Error bits clear on read, which also ends a line-status interrupt.
                _lsrErrors = 0;
                UpdateInterrupt();
                return lsr;
            case Msr:
                byte msr = _msr;
                _msr &= 0xF0; // delta bits clear on read
                UpdateInterrupt();
                return msr;
            default: // Scr
                return _scr;
        }
    }

    private void WriteRegister(int register, byte value)
    {
        switch (register)
        {
            case Dll when Dlab:
                _divisor = (ushort)((_divisor & 0xFF00) | value);
                break;
            case Thr:
                Transmit(value);
                break;
            case Dlm when Dlab:
                _divisor = (ushort)((_divisor & 0x00FF) | (value << 8));
                break;
            case Ier:
                byte old = _ier;
                _ier = (byte)(value & 0x0F);
                // Enabling the THR-empty interrupt while THR is empty raises it at once: Linux's 8250
                // driver relies on this to start transmitting.
                if ((_ier & IerThrEmpty) != 0 && (old & IerThrEmpty) == 0)
                    _thrInterrupt = true;
                UpdateInterrupt();
                break;
            case Fcr:
                WriteFifoControl(value);
                break;
            case Lcr:
                _lcr = value;
                break;
            case Mcr:
                WriteModemControl((byte)(value & 0x1F));
                break;
            case Lsr or Msr:
                break; // read-only (the factory-test writes of the datasheet are not emulated)
            default: // Scr
                _scr = value;
                break;
        }
    }

    private void Transmit(byte value)
    {
        _thrInterrupt = false;
        UpdateInterrupt();
        if (Loopback)
        {
            if (_rxCount < ReceiveBufferSize)
                PushReceived(value);
            else
                _lsrErrors |= LsrOverrun;
        }
        else if (_output is not null)
        {
            try
            {
                _output.WriteByte(value);
                _output.Flush();
            }
            catch (IOException)
            {
                // The host side went away (closed terminal or pipe): the guest's output is dropped, as on a cut cable.
            }
        }
        // THR and the shift register are empty again at once.
        _thrInterrupt = true;
        UpdateInterrupt();
    }

    private void WriteFifoControl(byte value)
    {
        bool wasEnabled = FifoEnabled;
        _fcr = (byte)(value & 0xC9);
        // Changing the FIFO enable clears both FIFOs, as does the explicit reset bit.
        if ((value & FcrClearRx) != 0 || wasEnabled != FifoEnabled)
        {
            _rxHead = 0;
            _rxCount = 0;
            Monitor.PulseAll(_lock);
        }
        UpdateInterrupt();
    }

    private void WriteModemControl(byte value)
    {
        _mcr = value;
        byte status;
        if (Loopback)
        {
            // Loopback wires MCR's outputs to MSR's inputs: RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD.
            status = (byte)(((value & McrRts) != 0 ? MsrCts : 0) | ((value & McrDtr) != 0 ? MsrDsr : 0) |
                            ((value & McrOut1) != 0 ? MsrRi : 0) | ((value & McrOut2) != 0 ? MsrDcd : 0));
        }
        else
        {
            status = MsrDcd | MsrDsr | MsrCts;
        }
        byte changed = (byte)((_msr ^ status) & 0xF0);
        byte delta = (byte)(((changed & MsrCts) != 0 ? MsrDcts : 0) | ((changed & MsrDsr) != 0 ? MsrDdsr : 0) |
                            ((changed & MsrDcd) != 0 ? MsrDdcd : 0) |
                            // TERI: RI went from on to off.
                            ((_msr & MsrRi) != 0 && (status & MsrRi) == 0 ? MsrTeri : 0));
        _msr = (byte)(status | (_msr & 0x0F) | delta);
        UpdateInterrupt();
    }

    private void PushReceived(byte value)
    {
        _rx[(_rxHead + _rxCount) % ReceiveBufferSize] = value;
        _rxCount++;
    }

    private byte PopReceived()
    {
        if (_rxCount == 0)
            return 0;
        byte value = _rx[_rxHead];
        _rxHead = (_rxHead + 1) % ReceiveBufferSize;
        _rxCount--;
        Monitor.PulseAll(_lock); // room for the host side
        UpdateInterrupt();
        return value;
    }

    /// <summary>The highest-priority enabled interrupt pending (datasheet Table IV), or IirNone.</summary>
    private byte PendingInterrupt()
    {
        if ((_ier & IerLineStatus) != 0 && _lsrErrors != 0)
            return IirLineStatus;
        if ((_ier & IerRxData) != 0 && _rxCount > 0)
            // With FIFOs, fewer bytes than the trigger level are reported as a character timeout.
            return FifoEnabled && Math.Min(_rxCount, FifoDepth) < TriggerLevel ? IirCharTimeout : IirRxData;
        if ((_ier & IerThrEmpty) != 0 && _thrInterrupt)
            return IirThrEmpty;
        if ((_ier & IerModemStatus) != 0 && (_msr & 0x0F) != 0)
            return IirModemStatus;
        return IirNone;
    }

    private void UpdateInterrupt()
    {
        bool raise = PendingInterrupt() != IirNone;
        // OUT2 gates the interrupt output on a PC's serial card; Linux sets it before relying on interrupts,
        // but firmware-less guests often do not, so the gate is not applied (as QEMU does not).
        if (raise == _irqRaised || _irq is null)
        {
            _irqRaised = raise;
            return;
        }
        _irqRaised = raise;
        if (raise)
            _irq.Assert();
        else
            _irq.Deassert();
    }
}
