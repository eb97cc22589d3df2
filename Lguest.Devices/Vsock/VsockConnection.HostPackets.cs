using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Devices;

// What the connection tells the guest: one packet per receive chain, most urgent first, each carrying the
// device's credit (buf_alloc, fwd_cnt) so that any packet is also a credit update.
internal sealed partial class VsockConnection
{
    /// <summary>
    /// Writes the connection's next packet into <paramref name="chain"/> (device-writable, at least a header
    /// long) and returns its length, or returns 0 when the connection turned out to have nothing to say (its
    /// host end had no data after all). <paramref name="scratch"/> holds the chain's payload buffers.
    /// </summary>
    public uint WritePacket(GuestMemory memory, DescriptorChain chain, ulong guestCid, Span<GuestBuffer> scratch)
    {
        var header = new VsockHeader
        {
            SourceCid = VsockHeader.HostCid,
            DestinationCid = guestCid,
            SourcePort = LocalPort,
            DestinationPort = PeerPort,
            Type = VsockHeader.TypeStream,
        };
        if (Take(VsockOwed.Reset))
            return Emit(memory, chain, ref header, VsockOp.Reset);
        if (Take(VsockOwed.Response))
        {
            State = VsockConnectionState.Established;
            _owed |= VsockOwed.ReadWrite; // data the host end wrote before the guest was told goes next
            return Emit(memory, chain, ref header, VsockOp.Response);
        }
        if (Take(VsockOwed.Request))
        {
            ArmExpiry(VsockMuxer.ConnectTimeout);
            return Emit(memory, chain, ref header, VsockOp.Request);
        }
        if (Take(VsockOwed.Shutdown))
        {
            header.Flags = (uint)VsockShutdown.Both;
            return Emit(memory, chain, ref header, VsockOp.Shutdown);
        }
        if ((_owed & VsockOwed.ReadWrite) != 0)
        {
            uint length = TryWriteData(memory, chain, ref header, scratch);
            if (length != 0)
                return length;
        }
        if (Take(VsockOwed.CreditUpdate))
            return Emit(memory, chain, ref header, VsockOp.CreditUpdate);
        return 0;
    }

    private uint TryWriteData(GuestMemory memory, DescriptorChain chain, ref VsockHeader header, Span<GuestBuffer> scratch)
    {
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
            return Emit(memory, chain, ref header, VsockOp.CreditRequest);
        }

        ulong room = Math.Min(Math.Min(chain.WritableLength - VsockHeader.Size, VsockPacket.MaxPayload), credit);
        int count = DescriptorChain.Slice(chain.Writable, VsockHeader.Size, room, scratch);
        int read;
        try
        {
            read = _end!.Receive(memory, scratch[..count]);
        }
        catch (IOException e)
        {
            Kill("the host end failed to give data", e);
            return Take(VsockOwed.Reset) ? Emit(memory, chain, ref header, VsockOp.Reset) : 0;
        }
        if (read < 0)
        {
            _owed &= ~VsockOwed.ReadWrite; // the host end calls HostReadable when there is more
            return 0;
        }
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
            return Emit(memory, chain, ref header, VsockOp.Shutdown);
        }
        _sent += (uint)read;
        header.Length = (uint)read;
        return Emit(memory, chain, ref header, VsockOp.ReadWrite);
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
