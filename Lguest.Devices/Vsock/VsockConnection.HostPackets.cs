using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Devices;

// What the connection tells the guest: one packet per receive chain, most urgent first, each carrying the
// device's credit (buf_alloc, fwd_cnt) so that any packet is also a credit update.
internal sealed partial class VsockConnection
{
    /// <summary>
    /// The most host bytes one turn of the connection reads for the guest, with one read of its host end into as
    /// many receive chains as they fill (a packet each, at most <see cref="VsockPacket.MaxPayload"/>): one window of
    /// the credit Linux advertises (256 KiB), so a stream is one readv per window where a turn of 64 KiB cost four.
    /// Other connections wait one turn at most: 64 of Linux's 4 KiB buffers, a quarter of its receive ring.
    /// </summary>
    public const int MaxReadBytes = (int)BufferSize;

    /// <summary>
    /// Writes the connection's next packets into <paramref name="chains"/> (each device-writable and at least a
    /// header long), from the oldest: one control packet, or data read from the host end into as many chains as
    /// it fills. Returns how many chains got a packet (their lengths set in <see cref="VsockReceiveChains.Lengths"/>),
    /// or 0 when the connection turned out to have nothing to say (its host end had no data after all).
    /// </summary>
    public int WritePackets(GuestMemory memory, VsockReceiveChains chains, ulong guestCid)
    {
        DescriptorChain chain = chains[0];
        var header = new VsockHeader
        {
            SourceCid = VsockHeader.HostCid,
            DestinationCid = guestCid,
            SourcePort = LocalPort,
            DestinationPort = PeerPort,
            Type = VsockHeader.TypeStream,
        };
        if (Take(VsockOwed.Reset))
            return One(chains, Emit(memory, chain, ref header, VsockOp.Reset));
        if (Take(VsockOwed.Response))
        {
            State = VsockConnectionState.Established;
            _owed |= VsockOwed.ReadWrite; // data the host end wrote before the guest was told goes next
            return One(chains, Emit(memory, chain, ref header, VsockOp.Response));
        }
        if (Take(VsockOwed.Request))
        {
            ArmExpiry(VsockMuxer.ConnectTimeout);
            return One(chains, Emit(memory, chain, ref header, VsockOp.Request));
        }
        if (Take(VsockOwed.Shutdown))
        {
            header.Flags = (uint)VsockShutdown.Both;
            return One(chains, Emit(memory, chain, ref header, VsockOp.Shutdown));
        }
        if ((_owed & VsockOwed.ReadWrite) != 0)
        {
            int packets = TryWriteData(memory, chains, ref header);
            if (packets != 0)
                return packets;
        }
        if (Take(VsockOwed.CreditUpdate))
            return One(chains, Emit(memory, chain, ref header, VsockOp.CreditUpdate));
        return 0;
    }

    // Data for the guest, or what stands for it: a CREDIT_REQUEST when its buffer is full, a SHUTDOWN at the end of
    // the host's stream, a RST when the host end failed. Returns the chains used, 0 when there was nothing.
    private int TryWriteData(GuestMemory memory, VsockReceiveChains chains, ref VsockHeader header)
    {
        DescriptorChain first = chains[0];
        if (!CanSendData)
        {
            _owed &= ~VsockOwed.ReadWrite;
            return 0;
        }
        uint credit = PeerCredit;
        if (credit == 0)
        {
            // The guest's buffer is full: leave the host's bytes where they are (its program's writes block)
            // until a packet from the guest brings credit; ask for it once, as the guest may not volunteer it.
            _owed &= ~VsockOwed.ReadWrite;
            _creditBlocked = true;
            if (_creditRequested)
                return 0;
            _creditRequested = true;
            return One(chains, Emit(memory, first, ref header, VsockOp.CreditRequest));
        }

        // The payload areas of the chains held, from the oldest, within the credit and one turn's bytes: one read
        // fills them in order.
        Span<uint> rooms = stackalloc uint[VsockReceiveChains.MaxHeld];
        ulong budget = Math.Min(credit, (uint)MaxReadBytes);
        ulong requested = 0;
        int used = 0, buffers = 0;
        for (; used < chains.Count && budget != 0; used++)
        {
            DescriptorChain chain = chains[used];
            ulong room = Math.Min(Math.Min(chain.WritableLength - VsockHeader.Size, VsockPacket.MaxPayload), budget);
            if (room == 0)
                break; // a chain with room for a header only: it ends the read
            buffers += chain.Writable.Length;
            rooms[used] = (uint)room;
            budget -= room;
            requested += room;
        }
        if (used == 0)
        {
            // The oldest chain takes no payload (Linux never posts one): it carries our credit, the data waits
            // for the next chain.
            return One(chains, Emit(memory, first, ref header, VsockOp.CreditUpdate));
        }
        Span<GuestBuffer> scratch = chains.Scratch(buffers);
        int count = 0;
        for (int i = 0; i < used; i++)
            count += DescriptorChain.Slice(chains[i].Writable, VsockHeader.Size, rooms[i], scratch[count..]);

        int read;
        try
        {
            read = _end!.Receive(memory, scratch[..count]);
        }
        catch (IOException e)
        {
            Kill("the host end failed to give data", e);
            return Take(VsockOwed.Reset) ? One(chains, Emit(memory, first, ref header, VsockOp.Reset)) : 0;
        }
        if (read < 0)
        {
            _owed &= ~VsockOwed.ReadWrite; // the host end calls HostReadable when there is more
            return 0;
        }
        if (read > 0 && (ulong)read < requested && _end!.ShortReadDrains)
            _owed &= ~VsockOwed.ReadWrite; // drained: no read that could only say "nothing now"; the end reports more
        if (read == 0)
        {
            // The host's stream ended. The guest may still send (a half-close), unless the host end can take
            // nothing more either: then both directions are done and the guest is asked to close.
            _owed &= ~VsockOwed.ReadWrite;
            _endOfStreamSent = true;
            VsockShutdown flags = VsockShutdown.Send;
            if (_end!.IsReceiveDone)
            {
                flags = VsockShutdown.Both;
                State = VsockConnectionState.Closing;
                ArmExpiry(VsockMuxer.ShutdownTimeout);
            }
            header.Flags = (uint)flags;
            return One(chains, Emit(memory, first, ref header, VsockOp.Shutdown));
        }

        // The bytes read fill the chains in order: each filled one is an RW packet of its share.
        _sent += (uint)read;
        Span<uint> lengths = chains.Lengths;
        uint left = (uint)read;
        int packets = 0;
        for (; packets < used && left != 0; packets++)
        {
            header.Length = Math.Min(rooms[packets], left);
            left -= header.Length;
            lengths[packets] = Emit(memory, chains[packets], ref header, VsockOp.ReadWrite);
        }
        return packets;
    }

    private static int One(VsockReceiveChains chains, uint length)
    {
        chains.Lengths[0] = length;
        return 1;
    }

    private bool Take(VsockOwed what)
    {
        if ((_owed & what) == 0)
            return false;
        _owed &= ~what;
        return true;
    }

    private uint Emit(GuestMemory memory, DescriptorChain chain, ref VsockHeader header, VsockOp op)
    {
        header.Op = (ushort)op;
        header.BufferAllocation = BufferSize;
        header.ForwardCount = _forwarded;
        _announced = _forwarded;
        _owed &= ~VsockOwed.CreditUpdate; // every packet tells the guest our credit
        Span<byte> wire = stackalloc byte[VsockHeader.Size];
        header.Write(wire);
        chain.CopyToWritable(memory, 0, wire);
        return VsockHeader.Size + header.Length;
    }
}
