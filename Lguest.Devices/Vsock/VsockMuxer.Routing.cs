using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Devices;

// The two directions of the muxer: the guest's packets in (transmit worker), packets for the guest out
// (receive worker), and the host's requests for new connections.
internal sealed partial class VsockMuxer
{
    /// <summary>
    /// Routes one packet from the guest's transmit queue. Packets not from the guest's CID or not to the host
    /// are dropped (the guest can reach nothing else here); those of another socket type, or for no connection,
    /// are answered with RST, except RSTs themselves; a REQUEST for no connection opens one.
    /// </summary>
    public void OnGuestPacket(VsockPacket packet, GuestMemory memory)
    {
        VsockHeader header = packet.Header;
        lock (Sync)
        {
            if (_closed)
                return;
            if (header.SourceCid != GuestCid || header.DestinationCid != VsockHeader.HostCid)
            {
                if (!_foreignCidLogged)
                {
                    _foreignCidLogged = true;
                    _logger.ForeignAddress(Name, header.ToString());
                }
                return;
            }
            var key = (header.DestinationPort, header.SourcePort);
            VsockOp op = packet.Op;
            bool known = _connections.TryGetValue(key, out VsockConnection? connection);
            if (header.Type != VsockHeader.TypeStream)
            {
                // Only streams are offered (no VIRTIO_VSOCK_F_SEQPACKET).
                if (known)
                    connection!.Kill($"socket type {header.Type}", null);
                else if (op != VsockOp.Reset)
                    QueueReset(key);
                return;
            }
            if (known)
            {
                connection!.OnGuestPacket(packet, memory);
                Schedule(connection);
                return;
            }
            if (op == VsockOp.Request)
                Accept(key, header);
            else if (op != VsockOp.Reset)
                QueueReset(key);
        }
    }

    /// <summary>
    /// Writes the next packets for the guest into <paramref name="chains"/>, from the oldest held: RSTs for unknown
    /// connections first, then the connections in turn (one turn each, so one busy stream cannot starve the
    /// others; a turn of data may fill several chains with one read of its host end). Returns how many chains
    /// got a packet (their lengths in <see cref="VsockReceiveChains.Lengths"/>), or 0 when nothing was waiting after all.
    /// </summary>
    public int WritePackets(GuestMemory memory, VsockReceiveChains chains)
    {
        lock (Sync)
        {
            if (_closed)
                return 0;
            if (_resets.TryDequeue(out (uint Local, uint Peer) reset))
            {
                _pending--;
                var header = new VsockHeader
                {
                    SourceCid = VsockHeader.HostCid,
                    DestinationCid = GuestCid,
                    SourcePort = reset.Local,
                    DestinationPort = reset.Peer,
                    Type = VsockHeader.TypeStream,
                    Op = (ushort)VsockOp.Reset,
                };
                Span<byte> wire = stackalloc byte[VsockHeader.Size];
                header.Write(wire);
                chains[0].CopyToWritable(memory, 0, wire);
                chains.Lengths[0] = VsockHeader.Size;
                return 1;
            }
            while (_ready.TryDequeue(out VsockConnection? connection))
            {
                _pending--;
                connection.InReadyQueue = false;
                int packets = connection.WritePackets(memory, chains, GuestCid);
                Schedule(connection); // again at the back if it owes more; forgotten once its RST is out
                if (packets != 0)
                    return packets;
            }
            return 0;
        }
    }

    /// <summary>
    /// Before the worker sleeps: true if a packet is waiting after all, else it is marked asleep so the next
    /// packet queued signals <see cref="Work"/>.
    /// </summary>
    public bool PrepareToSleep()
    {
        lock (Sync)
        {
            if (_pending != 0 || _closed)
                return true;
            _workerSleeping = true;
            return false;
        }
    }

    /// <summary>
    /// The worker's queues are being served on another thread while it sleeps (its inline server): packets queued
    /// meanwhile are that thread's to deliver, and need not wake the worker; <see cref="PrepareToSleep"/> ends it.
    /// </summary>
    public void Wake()
    {
        lock (Sync)
            _workerSleeping = false;
    }

    /// <summary>
    /// Opens a host-initiated connection to guest port <paramref name="port"/> over <paramref name="end"/>: a
    /// REQUEST goes to the guest, and the end learns the outcome (<see cref="VsockHostEnd.Accepted"/>, or its
    /// close with the reason). Returns null, with the reason, when it cannot even be asked.
    /// </summary>
    public VsockConnection? Connect(uint port, VsockHostEnd end, out string? refusal)
    {
        lock (Sync)
        {
            if (_closed)
            {
                refusal = "the guest's vsock driver is not running";
                return null;
            }
            if (_connections.Count >= MaxConnections)
            {
                refusal = $"{MaxConnections} vsock connections are open";
                return null;
            }
            uint local = AllocateLocalPort(port);
            var connection = new VsockConnection(this, local, port, VsockConnectionState.Connecting, hostInitiated: true);
            _connections.Add((local, port), connection);
            _localPorts.Add(local);
            connection.AttachHostEnd(end); // owes the REQUEST
            refusal = null;
            return connection;
        }
    }

    private void Accept((uint Local, uint Peer) key, in VsockHeader header)
    {
        if (_connections.Count >= MaxConnections || _acceptor is null)
        {
            QueueReset(key);
            return;
        }
        var connection = new VsockConnection(this, key.Local, key.Peer, VsockConnectionState.Accepting, hostInitiated: false);
        connection.TakePeerCredit(header);
        _connections.Add(key, connection);
        if (!_acceptor.TryAccept(connection))
        {
            _connections.Remove(key);
            QueueReset(key);
        }
    }

    private void QueueReset((uint Local, uint Peer) key)
    {
        if (_resets.Count >= MaxPendingResets)
            return;
        _resets.Enqueue(key);
        Volatile.Write(ref _pending, _pending + 1);
        WakeReceiver();
    }

    // Round-robin over [2^30, 2^32), skipping ports in use; MaxConnections bounds the skips.
    private uint AllocateLocalPort(uint peerPort)
    {
        while (true)
        {
            uint candidate = _nextLocalPort;
            _nextLocalPort = candidate == uint.MaxValue - 1 ? FirstLocalPort : candidate + 1;
            if (!_localPorts.Contains(candidate) && !_connections.ContainsKey((candidate, peerPort)))
                return candidate;
        }
    }
}
