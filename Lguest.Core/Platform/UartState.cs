using Lguest.Snapshot;

namespace Lguest.Platform;

/// <summary>
/// A <see cref="Uart16550"/>'s registers and the input the guest has not read yet, for snapshots. The interrupt line's
/// level is not kept: it follows from the registers and is driven again on restore.
/// </summary>
public sealed record UartState(
    byte InterruptEnable, byte LineControl, byte ModemControl, byte LineStatusErrors, byte ModemStatus,
    byte Scratch, byte FifoControl, ushort Divisor, bool TransmitterEmptyInterrupt, ReadOnlyMemory<byte> PendingInput)
{
    /// <summary>Encodes the record.</summary>
    public byte[] Encode()
    {
        var w = new SnapshotStateWriter();
        foreach (byte b in new[] { InterruptEnable, LineControl, ModemControl, LineStatusErrors, ModemStatus, Scratch, FifoControl })
            w.WriteByte(b);
        w.WriteUInt16(Divisor);
        w.WriteBoolean(TransmitterEmptyInterrupt);
        w.WriteBytes(PendingInput.Span);
        return w.ToArray();
    }

    /// <summary>Decodes a record, refusing register values a 16550A cannot hold and more input than it buffers.</summary>
    /// <exception cref="SnapshotException">Truncated or out of range.</exception>
    public static UartState Decode(ReadOnlyMemory<byte> data)
    {
        var r = new SnapshotStateReader(data, "the UART's state");
        var state = new UartState(r.ReadByte(), r.ReadByte(), r.ReadByte(), r.ReadByte(), r.ReadByte(), r.ReadByte(), r.ReadByte(),
            r.ReadUInt16(), r.ReadBoolean(), r.ReadBytes(Uart16550.ReceiveBufferSize));
        r.RequireEnd();
        if ((state.InterruptEnable & ~0x0F) != 0 || (state.ModemControl & ~0x1F) != 0 || (state.FifoControl & ~0xC9) != 0 || (state.LineStatusErrors & ~0x1E) != 0)
            throw r.Corrupt("a register holds bits a 16550A does not have");
        return state;
    }
}
