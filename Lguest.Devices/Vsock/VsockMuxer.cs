using System.Runtime.InteropServices;
using Lguest.Devices.Interop;
using Lguest.Hypervisor;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// The connections of one device activation, keyed by (host port, guest port): routes the guest's packets to
/// them (or answers with RST, §5.10.6.5), queues those with something to tell the guest for the receive
/// worker, opens host-initiated connections, and runs the timeouts. One lock, <see cref="Sync"/>, guards it and
/// every connection; nothing under it blocks.
/// </summary>
/// <remarks>
/// Everything it holds is bounded: at most <see cref="MaxConnections"/> connections (each holding at most
/// <see cref="VsockConnection.BufferSize"/> bytes for the host), at most <see cref="MaxPendingResets"/> RSTs for
/// packets that matched no connection, and a queue with each connection at most once.
/// </remarks>
internal sealed partial class VsockMuxer : IDisposable
{
    /// <summary>
    /// The most connections at once, open or closing (Firecracker's limit, 1023, rounded): bounds the host's
    /// descriptors and buffers a guest can make it hold. A REQUEST beyond it gets a RST.
    /// </summary>
    public const int MaxConnections = 1024;

    /// <summary>
    /// The most RSTs waiting for a receive buffer, for packets that matched no connection: a guest that sends
    /// such packets and posts no buffers cannot grow the host. Beyond it they are dropped (the guest's
    /// connection, if it thinks it has one, learns of it from the next packet it sends).
    /// </summary>
    public const int MaxPendingResets = 256;

    /// <summary>How long the guest has to accept a host-initiated connection (Firecracker's 2 s).</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);

    /// <summary>How long a closing connection may take to deliver its last bytes and get the other side's RST (Firecracker's 2 s).</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(2);

    /// <summary>How often timeouts are looked at while any runs.</summary>
    public static readonly TimeSpan ExpiryTick = TimeSpan.FromMilliseconds(250);

    /// <summary>The first port of host-initiated connections (Firecracker's range, [2^30, 2^31)).</summary>
    public const uint FirstLocalPort = 1u << 30;

    /// <summary>The first token of a socket in <see cref="Poller"/>; those below are the worker's own (queues, signals).</summary>
    public const ulong FirstSocketToken = 16;

    private readonly Dictionary<(uint Local, uint Peer), VsockConnection> _connections = new(MaxConnections);
    private readonly Queue<VsockConnection> _ready = new(MaxConnections);
    private readonly Queue<(uint Local, uint Peer)> _resets = new(MaxPendingResets);
    private readonly HashSet<uint> _localPorts = new(MaxConnections);
    private readonly Dictionary<ulong, UnixSocketHostEnd> _watched = new(MaxConnections);
    private readonly List<VsockHostEnd> _gathering = new(MaxConnections); // ends holding writes for the pass's end
    private readonly IVsockAcceptor? _acceptor;
    private readonly TimeProvider _clock;
    private readonly ITimer _expiryTimer;
    private readonly ILogger _logger;
    private uint _nextLocalPort = FirstLocalPort;
    private bool _expiryRunning;
    private bool _workerSleeping;
    private ulong _nextToken = FirstSocketToken;
    private bool _closed;
    private int _pending; // _ready.Count + _resets.Count, readable without the lock
    private bool _foreignCidLogged;

    /// <summary>Creates the muxer of one activation.</summary>
    /// <param name="guestCid">The guest's CID: the source of every guest packet and the destination of ours.</param>
    /// <param name="acceptor">Where guest-initiated connections go; null refuses them all.</param>
    /// <param name="clock">The clock of the timeouts.</param>
    /// <param name="name">The device's name in messages.</param>
    /// <param name="logger">Where connection events go.</param>
    public VsockMuxer(ulong guestCid, IVsockAcceptor? acceptor, TimeProvider clock, string name, ILogger logger)
    {
        GuestCid = guestCid;
        _acceptor = acceptor;
        _clock = clock;
        Name = name;
        _logger = logger;
        _expiryTimer = clock.CreateTimer(static state => ((VsockMuxer)state!).CheckExpiries(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The lock of the muxer and its connections.</summary>
    public Lock Sync { get; } = new();

    /// <summary>The guest's CID.</summary>
    public ulong GuestCid { get; }

    /// <summary>The device's name in messages.</summary>
    public string Name { get; }

    /// <summary>Signalled when a packet for the guest is queued while the worker sleeps.</summary>
    public EventNotifier Work { get; } = new();

    /// <summary>The worker's epoll: its queues' and signals' eventfds (tokens below <see cref="FirstSocketToken"/>) and the connections' Unix sockets.</summary>
    public Epoll Poller { get; } = new();

    /// <summary>Whether packets wait for the guest (a hint, read without the lock).</summary>
    public bool HasPackets => Volatile.Read(ref _pending) != 0;

    /// <summary>The connections, open or closing (for tests and counters).</summary>
    public int ConnectionCount
    {
        get
        {
            lock (Sync)
                return _connections.Count;
        }
    }

    /// <summary>
    /// The connections, the most bytes any holds for its host end, and the RSTs waiting: what the bounds
    /// promise, for tests and the fuzz target to check.
    /// </summary>
    internal (int Connections, uint MostBuffered, int PendingResets) Census()
    {
        lock (Sync)
        {
            uint most = 0;
            foreach (VsockConnection connection in _connections.Values)
                most = Math.Max(most, connection.Buffered);
            return (_connections.Count, most, _resets.Count);
        }
    }

    /// <summary>
    /// Ends the activation: every connection's host end closes with <paramref name="failure"/>, nothing more is
    /// sent to the guest, and host-initiated connections are refused from now on. Idempotent.
    /// </summary>
    public void Close(Exception failure)
    {
        lock (Sync)
        {
            if (_closed)
                return;
            _closed = true;
            foreach (VsockConnection connection in _connections.Values)
                connection.Abandon(failure);
            _connections.Clear();
            _ready.Clear();
            _resets.Clear();
            _localPorts.Clear();
            _watched.Clear();
            _gathering.Clear();
            _pending = 0;
        }
        _expiryTimer.Dispose();
    }

    /// <summary>
    /// <see cref="Close"/> with a device-reset error, then releases <see cref="Work"/>: only once the workers
    /// that wait on it have stopped.
    /// </summary>
    public void Dispose()
    {
        Close(new IOException("the guest's vsock device was reset"));
        Work.Dispose();
        Poller.Dispose();
    }

    /// <summary>
    /// Queues <paramref name="connection"/> for the receive worker if it owes the guest something; forgets it
    /// if it is finished. Called with the lock held after anything that may change what a connection owes.
    /// </summary>
    internal void Schedule(VsockConnection connection)
    {
        if (_closed)
            return;
        if (connection.IsFinished)
        {
            Forget(connection);
            return;
        }
        if (!connection.Owes || connection.InReadyQueue)
            return;
        connection.InReadyQueue = true;
        _ready.Enqueue(connection);
        Volatile.Write(ref _pending, _pending + 1);
        WakeReceiver();
    }

    /// <summary>A connection was reset by the device: log why (per connection, at debug level).</summary>
    internal void Killed(VsockConnection connection, string why) =>
        _logger.ConnectionReset(Name, connection.LocalPort, connection.PeerPort, why);

    /// <summary>The timestamp <paramref name="timeout"/> from now; starts the timer that checks it.</summary>
    internal long ExpiryFromNow(TimeSpan timeout)
    {
        if (!_expiryRunning && !_closed)
        {
            _expiryRunning = true;
            _expiryTimer.Change(ExpiryTick, ExpiryTick);
        }
        long expiry = _clock.GetTimestamp() + (long)(timeout.TotalSeconds * _clock.TimestampFrequency);
        return expiry == 0 ? 1 : expiry;
    }

    private void Forget(VsockConnection connection)
    {
        // Only this connection: a new one may have taken its ports since (a dead one can sit in the queue).
        var key = (connection.LocalPort, connection.PeerPort);
        if (_connections.TryGetValue(key, out VsockConnection? current) && current == connection)
        {
            _connections.Remove(key);
            if (connection.IsHostInitiated)
                _localPorts.Remove(connection.LocalPort);
        }
    }

    // What a socket is watched for: its data and its peer's end always; room to write only while the connection
    // holds bytes the socket could not take (see WatchRoom).
    private const uint SocketEvents = Epoll.In | Epoll.ReadHangUp | Epoll.EdgeTriggered;

    /// <summary>Has the worker watch <paramref name="socket"/> for <paramref name="end"/>; returns its token. Lock held.</summary>
    internal ulong Watch(SafeHandle socket, UnixSocketHostEnd end)
    {
        ulong token = _nextToken++;
        _watched.Add(token, end);
        Poller.Add(socket, SocketEvents, token);
        return token;
    }

    /// <summary>
    /// Watches the socket of <paramref name="token"/> for room to write too (<paramref name="room"/>), or no longer.
    /// Only while bytes are held: AF_UNIX reports room each time its reader takes a buffer, and a worker woken for
    /// every read of a host program that keeps up would pay a wake-up and an epoll pass for nothing. Lock held.
    /// </summary>
    internal void WatchRoom(SafeHandle socket, ulong token, bool room)
    {
        if (_watched.ContainsKey(token) && !Poller.IsClosed)
            Poller.Modify(socket, room ? SocketEvents | Epoll.Out : SocketEvents, token);
    }

    /// <summary>Stops watching the socket of <paramref name="token"/>, before it is closed. Lock held.</summary>
    internal void Unwatch(SafeHandle socket, ulong token)
    {
        if (_watched.Remove(token) && !Poller.IsClosed)
            Poller.Remove(socket);
    }

    /// <summary><paramref name="end"/> gathered its first write of this pass of the transmit queue. Lock held.</summary>
    internal void Gathered(VsockHostEnd end) => _gathering.Add(end);

    /// <summary>
    /// The end of a pass of the transmit queue, before its chains go back to the guest: every host end writes what it
    /// gathered (one writev each).
    /// </summary>
    public void FlushGathered()
    {
        lock (Sync)
        {
            // Each end is listed once per pass (it registers when its first write is gathered); a flush can list none.
            for (int i = 0; i < _gathering.Count; i++)
                _gathering[i].FlushGathered();
            _gathering.Clear();
        }
    }

    /// <summary>The worker saw <paramref name="events"/> on the socket of <paramref name="token"/>.</summary>
    public void OnSocketEvents(ulong token, uint events)
    {
        lock (Sync)
        {
            // A socket closed since epoll_wait returned has no entry any more: its events are stale.
            if (!_closed && _watched.TryGetValue(token, out UnixSocketHostEnd? end))
                end.OnReady(events);
        }
    }

    private void WakeReceiver()
    {
        if (_workerSleeping)
        {
            _workerSleeping = false;
            Work.Signal();
        }
    }

    private void CheckExpiries()
    {
        lock (Sync)
        {
            if (_closed)
                return;
            long now = _clock.GetTimestamp();
            bool any = false;
            foreach (VsockConnection connection in _connections.Values)
            {
                connection.CheckExpiry(now);
                any |= connection.IsExpiring;
            }
            // Killing schedules RSTs; finished connections are forgotten by the receive worker as it sends them.
            if (!any)
            {
                _expiryRunning = false;
                _expiryTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
    }
}
