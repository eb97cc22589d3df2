using System.Net.Sockets;
using Lguest.Memory;

namespace Lguest.Devices;

// What the guest sends on a known connection: every header field is the guest's, checked here against the
// connection's state and credit; a packet that breaks the protocol resets the connection, never more.
internal sealed partial class VsockConnection
{
    /// <summary>A packet from the guest for this connection (the muxer matched its ports and checked its CIDs and type).</summary>
    public void OnGuestPacket(VsockPacket packet, GuestMemory memory)
    {
        if (State == VsockConnectionState.Dead)
            return; // a RST is owed or was sent: what the guest says now changes nothing
        VsockOp op = packet.Op;
        if (op != VsockOp.ReadWrite)
        {
            // The data before it reaches the host end first, as it did with a write per packet.
            _end?.FlushGathered();
            if (State == VsockConnectionState.Dead)
                return; // the host end failed to take it: reset
        }
        if (op == VsockOp.Reset)
        {
            OnGuestReset();
            return;
        }

        // Every packet carries the sender's credit (§5.10.6.3). Values that run backwards or past what was
        // sent only shrink the credit the guest gets (see PeerCredit): they cannot make the host hold more.
        _peerBufferAllocation = packet.Header.BufferAllocation;
        _peerForwardCount = packet.Header.ForwardCount;

        switch (op)
        {
            case VsockOp.ReadWrite:
                OnGuestData(packet, memory);
                break;
            case VsockOp.Response:
                OnGuestResponse();
                break;
            case VsockOp.Shutdown:
                OnGuestShutdown((VsockShutdown)(packet.Header.Flags & (uint)VsockShutdown.Both));
                break;
            case VsockOp.CreditUpdate:
                break; // the credit was taken above
            case VsockOp.CreditRequest:
                Owe(VsockOwed.CreditUpdate);
                break;
            case VsockOp.Request:
                Kill("a REQUEST for a connection already in use", null);
                return;
            default:
                Kill($"unknown op {packet.Header.Op}", null);
                return;
        }

        if (_creditBlocked && State != VsockConnectionState.Dead && PeerCredit > 0)
        {
            // The guest made room: read the host end again.
            _creditBlocked = false;
            _creditRequested = false;
            if (CanSendData)
                Owe(VsockOwed.ReadWrite);
        }
    }

    private void OnGuestReset()
    {
        // The guest ended it: no reply (§5.10.6.5). A reset that follows the guest's own SHUTDOWN of both
        // directions, or ours, is the last step of an orderly close; any other is a reset for the host too.
        bool orderly = _peerShutdown == VsockShutdown.Both || State == VsockConnectionState.Closing;
        Exception? failure = State == VsockConnectionState.Connecting
            ? new SocketException((int)SocketError.ConnectionRefused)
            : orderly ? null : new IOException("the guest reset the vsock connection", new SocketException((int)SocketError.ConnectionReset));
        State = VsockConnectionState.Dead;
        _owed = VsockOwed.None;
        _expiry = 0;
        _end?.Close(failure);
    }

    private void OnGuestResponse()
    {
        // Only an answer to a REQUEST already delivered: one owed and not yet sent cannot have been seen.
        if (State != VsockConnectionState.Connecting || (_owed & VsockOwed.Request) != 0 || _end is null)
        {
            Kill("a RESPONSE the host did not ask for", null);
            return;
        }
        State = VsockConnectionState.Established;
        _expiry = 0;
        if (!_end.Accepted(LocalPort))
        {
            Kill("the host end went away before the guest accepted", null);
            return;
        }
        Owe(VsockOwed.ReadWrite); // whatever the host already wrote goes out now
    }

    private void OnGuestData(VsockPacket packet, GuestMemory memory)
    {
        if (State is not (VsockConnectionState.Established or VsockConnectionState.Closing))
        {
            Kill("data before the connection was established", null);
            return;
        }
        if ((_peerShutdown & VsockShutdown.Send) != 0)
        {
            Kill("data after the guest's SHUTDOWN of sending", null);
            return;
        }
        uint length = packet.PayloadLength;
        if (length == 0)
            return;
        if (length > VsockPacket.MaxPayload)
        {
            Kill($"a {length}-byte packet, more than {VsockPacket.MaxPayload}", null);
            return;
        }
        // §5.10.6.3: the sender MUST NOT send more than the receiver's free space. This is the bound on what
        // the host holds for a guest whose host program does not read.
        if ((ulong)Buffered + length > BufferSize)
        {
            Kill($"{length} bytes with {BufferSize - Buffered} bytes of credit", null);
            return;
        }
        _received += length;
        if (State == VsockConnectionState.Closing || _end is null)
        {
            _forwarded += length; // the host end is gone: the bytes have nowhere to go, and the guest must not stall
        }
        else
        {
            try
            {
                int taken = _end.Send(memory, packet.Payload, length); // may report earlier bytes forwarded meanwhile
                _forwarded += (uint)taken;
            }
            catch (IOException e)
            {
                Kill("the host end failed to take data", e);
                return;
            }
        }
        OweCreditUpdateIfLow();
    }

    private void OnGuestShutdown(VsockShutdown flags)
    {
        if (State is VsockConnectionState.Connecting or VsockConnectionState.Accepting)
        {
            Kill("SHUTDOWN before the connection was established", null);
            return;
        }
        // Flags only ever add up (a peer cannot take back what it gave up); unknown bits were masked off.
        VsockShutdown added = flags & ~_peerShutdown;
        _peerShutdown |= flags;
        if ((added & VsockShutdown.Send) != 0 && State == VsockConnectionState.Established)
            _end?.EndSend();
        if (_peerShutdown != VsockShutdown.Both)
            return;
        // The guest is closing. Whatever the host end still holds for its program is delivered first, within
        // the shutdown timeout; then the RST that the guest waits for ends it.
        if (State == VsockConnectionState.Closing || _end is null || _end.Pending == 0)
            Finish();
        else
            ArmExpiry(VsockMuxer.ShutdownTimeout);
    }

    /// <summary>An orderly end: RST to the guest (the last step of its close), end-of-stream to the host.</summary>
    private void Finish()
    {
        State = VsockConnectionState.Dead;
        _expiry = 0;
        _owed = VsockOwed.Reset;
        _end?.Close(null);
        _muxer.Schedule(this);
    }

    private void OweCreditUpdateIfLow()
    {
        // What the guest believes is free: our buffer less what it sent since the fwd_cnt we last told it.
        uint unannounced = _received - _announced;
        if (unannounced > BufferSize - CreditUpdateThreshold && _forwarded != _announced)
            Owe(VsockOwed.CreditUpdate);
    }
}
