using System.Net.Sockets;
using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Devices;

/// <summary>
/// One vsock stream connection between a guest port and the host (virtio 1.2 §5.10.6.5): its state, the
/// credit each way (§5.10.6.3), what it owes the guest, and its host end. Every member runs under the
/// muxer's lock (<see cref="VsockMuxer.Sync"/>); nothing here blocks.
/// </summary>
/// <remarks>
/// Credit, guest to host: the device advertises <see cref="BufferSize"/> bytes and counts as forwarded
/// (fwd_cnt) what the host end took; a guest sending more than that leaves room for is reset, so the host
/// never holds more than <see cref="BufferSize"/> bytes of one connection however slowly its program reads.
/// Host to guest: the device reads the host end only while the guest's own advertised buffer (its buf_alloc
/// minus what is in flight) has room, so a guest that stops reading stops the host end's reads, and the host
/// program's writes block in its own socket or pipe.
/// </remarks>
internal sealed partial class VsockConnection
{
    /// <summary>
    /// The receive buffer the device advertises per connection (buf_alloc), and so the most guest bytes the
    /// host ever holds for one: Linux's default vsock buffer size (256 KiB).
    /// </summary>
    public const uint BufferSize = 256 * 1024;

    /// <summary>
    /// A CREDIT_UPDATE goes to the guest when its idea of our free space falls below this (half the buffer):
    /// a streaming guest never waits for credit while the host keeps up, and gets an update every few packets.
    /// </summary>
    public const uint CreditUpdateThreshold = BufferSize / 2;

    private readonly VsockMuxer _muxer;
    private VsockHostEnd? _end;
    private VsockOwed _owed;

    // Guest to host (the device receives): totals, wrapping as the header's 32-bit counters do.
    private uint _received;       // RW bytes taken from the guest
    private uint _forwarded;      // of those, taken by the host end: our fwd_cnt
    private uint _announced;      // fwd_cnt as last told to the guest

    // Host to guest (the device sends).
    private uint _peerBufferAllocation;
    private uint _peerForwardCount;
    private uint _sent;           // RW bytes put in the guest's buffers
    private bool _creditBlocked;  // host data waits for guest credit
    private bool _creditRequested;

    private VsockShutdown _peerShutdown; // what the guest gave up
    private bool _endOfStreamSent;       // SHUTDOWN SEND told the guest the host's stream ended
    private long _expiry;                // a timestamp of the muxer's clock; 0 when no timeout runs

    public VsockConnection(VsockMuxer muxer, uint localPort, uint peerPort, VsockConnectionState state, bool hostInitiated)
    {
        _muxer = muxer;
        LocalPort = localPort;
        PeerPort = peerPort;
        State = state;
        IsHostInitiated = hostInitiated;
    }

    /// <summary>The host side's port: the port a guest connected to, or the one allocated for a host-initiated connection.</summary>
    public uint LocalPort { get; }

    /// <summary>The guest side's port.</summary>
    public uint PeerPort { get; }

    /// <summary>Whether the host asked for the connection (its <see cref="LocalPort"/> was allocated).</summary>
    public bool IsHostInitiated { get; }

    public VsockConnectionState State { get; private set; }

    /// <summary>The lock every member runs under.</summary>
    public Lock Sync => _muxer.Sync;

    /// <summary>The muxer the connection belongs to.</summary>
    public VsockMuxer Muxer => _muxer;

    /// <summary>Whether the connection sits in the muxer's queue of connections with packets for the guest.</summary>
    public bool InReadyQueue { get; set; }

    /// <summary>Whether the connection has a packet to give the guest.</summary>
    public bool Owes => _owed != VsockOwed.None;

    /// <summary>Whether the connection is over and owes nothing more: the muxer forgets it.</summary>
    public bool IsFinished => State == VsockConnectionState.Dead && _owed == VsockOwed.None;

    /// <summary>The host end, once it exists (a guest-initiated Unix connection gets it when its socket connects).</summary>
    public VsockHostEnd? HostEnd => _end;

    /// <summary>The guest's credit for host data: its buffer less what is in flight, 0 if its counters make no sense.</summary>
    internal uint PeerCredit
    {
        get
        {
            uint inFlight = _sent - _peerForwardCount;
            return inFlight >= _peerBufferAllocation ? 0 : _peerBufferAllocation - inFlight;
        }
    }

    /// <summary>Bytes taken from the guest that the host end has not taken yet.</summary>
    internal uint Buffered => _received - _forwarded;

    /// <summary>Gives a connection its host end; a guest-initiated one then owes the guest its RESPONSE.</summary>
    public void AttachHostEnd(VsockHostEnd end)
    {
        _end = end;
        end.Attach(this);
        if (State == VsockConnectionState.Accepting)
            Owe(VsockOwed.Response);
        else if (State == VsockConnectionState.Connecting)
            Owe(VsockOwed.Request);
    }

    /// <summary>Takes the guest's credit figures from a REQUEST that opens the connection.</summary>
    public void TakePeerCredit(in VsockHeader header)
    {
        _peerBufferAllocation = header.BufferAllocation;
        _peerForwardCount = header.ForwardCount;
    }

    /// <summary>The connection's timeout, if one runs and has passed at <paramref name="now"/>, resets it.</summary>
    public void CheckExpiry(long now)
    {
        if (_expiry == 0 || now < _expiry || State == VsockConnectionState.Dead)
            return;
        _expiry = 0;
        if (State == VsockConnectionState.Connecting)
            Kill("the guest did not answer the connection request in time", new SocketException((int)SocketError.TimedOut));
        else
            Kill("the guest did not finish closing in time", null);
    }

    /// <summary>Whether a timeout runs.</summary>
    public bool IsExpiring => _expiry != 0;

    /// <summary>
    /// Ends the connection with a RST to the guest; the host end closes with <paramref name="hostFailure"/>
    /// (null: a reset, as the guest's side sees it).
    /// </summary>
    public void Kill(string why, Exception? hostFailure)
    {
        if (State == VsockConnectionState.Dead)
            return;
        _muxer.Killed(this, why);
        State = VsockConnectionState.Dead;
        _expiry = 0;
        _owed = VsockOwed.Reset;
        _end?.Close(hostFailure ?? new IOException($"the vsock connection was reset: {why}", new SocketException((int)SocketError.ConnectionReset)));
        _muxer.Schedule(this);
    }

    /// <summary>The device is being reset: the host end closes with <paramref name="failure"/>, nothing more is owed.</summary>
    public void Abandon(Exception failure)
    {
        State = VsockConnectionState.Dead;
        _owed = VsockOwed.None;
        _expiry = 0;
        _end?.Close(failure);
    }

    private void Owe(VsockOwed what)
    {
        _owed |= what;
        _muxer.Schedule(this);
    }

    private void ArmExpiry(TimeSpan timeout) => _expiry = _muxer.ExpiryFromNow(timeout);

    private bool CanSendData => State == VsockConnectionState.Established && _end is not null
        && (_peerShutdown & VsockShutdown.Receive) == 0 && !_endOfStreamSent;
}
