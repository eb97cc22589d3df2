using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Devices;

/// <summary>
/// The host's side (CID 2) of the guest's vsock device, for .NET programs in this process: connect to a port
/// the guest listens on (<see cref="ConnectAsync"/>), and accept the connections the guest opens to a host port
/// (<see cref="Listen"/>). With <see cref="VirtioVsockOptions.UnixSocketPath"/> set it also serves Firecracker's
/// hybrid vsock on that Unix socket, for programs outside. One per machine, kept across guest reboots; its
/// connections are those of the running guest's driver, and all of them end when the guest resets its device,
/// reboots, or the launcher stops.
/// </summary>
/// <remarks>Registered by <see cref="VirtioVsockServiceCollectionExtensions.AddVirtioVsock"/>; resolve it from the container.</remarks>
public sealed class VsockHost : IVsockAcceptor, IDisposable
{
    /// <summary>The default number of connections a listener holds for a program that has not accepted them yet.</summary>
    public const int DefaultBacklog = 16;

    /// <summary>The largest backlog a listener may have (the device's connection limit).</summary>
    public const int MaxBacklog = VsockMuxer.MaxConnections;

    private readonly ConcurrentDictionary<uint, VsockListener> _listeners = new();
    private readonly Lock _lock = new();
    private readonly ILogger _logger;
    private VsockMuxer? _muxer;
    private UnixSocketBackend? _unix;
    private bool _disposed;

    /// <summary>Creates the host side for a device with <paramref name="options"/>; the Unix socket is not created until <see cref="Start"/>.</summary>
    /// <param name="options">The guest's CID, the Unix socket path (or none).</param>
    /// <param name="logger">Where connection events go.</param>
    /// <param name="clock">The clock of the connection timeouts; null for the system's.</param>
    public VsockHost(VirtioVsockOptions options, ILogger<VsockHost>? logger = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        GuestCid = options.GuestCid;
        UnixSocketPath = options.UnixSocketPath;
        Name = options.Name ?? "vsock";
        Clock = clock ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The guest's CID.</summary>
    public ulong GuestCid { get; }

    /// <summary>The hybrid vsock's Unix socket (uds_path), or null when only this process's programs use the device.</summary>
    public string? UnixSocketPath { get; }

    /// <summary>Whether the guest's vsock driver is running: connections can be made.</summary>
    public bool IsDriverActive => Volatile.Read(ref _muxer) is not null;

    /// <summary>The device's name in messages.</summary>
    internal string Name { get; }

    internal TimeProvider Clock { get; }

    /// <summary>
    /// Creates the Unix socket at <see cref="UnixSocketPath"/> (if any), once; the device's factory calls it
    /// when it makes the first device, so that a bad path fails the launch before the guest runs.
    /// </summary>
    /// <exception cref="VsockException">The socket cannot be created.</exception>
    public void Start()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_unix is not null || UnixSocketPath is null)
                return;
            _unix = UnixSocketBackend.Start(UnixSocketPath, this, Name, _logger);
            _logger.Ready(Name, GuestCid, UnixSocketPath);
        }
    }

    /// <summary>
    /// Connects to <paramref name="port"/> in the guest: completes once the guest accepted. Fails with a
    /// <see cref="SocketException"/>: <see cref="SocketError.ConnectionRefused"/> when the guest's driver is not
    /// running or nothing listens on the port, <see cref="SocketError.TimedOut"/> when the guest did not answer
    /// within 2 s.
    /// </summary>
    /// <exception cref="SocketException">The guest refused or did not answer.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired first (the connection is reset).</exception>
    public async Task<VsockStream> ConnectAsync(uint port, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        VsockMuxer muxer = Volatile.Read(ref _muxer) ?? throw new SocketException((int)SocketError.ConnectionRefused);
        var end = new PipeHostEnd();
        VsockConnection connection = muxer.Connect(port, end, out _) ?? throw new SocketException((int)SocketError.ConnectionRefused);
        using CancellationTokenRegistration registration = cancellationToken.Register(static state =>
        {
            var (connection, token) = ((VsockConnection, CancellationToken))state!;
            connection.HostFailed("the program cancelled its connect", new OperationCanceledException(token));
        }, (connection, cancellationToken));
        return await end.Connected.ConfigureAwait(false);
    }

    /// <summary>
    /// Listens on host port <paramref name="port"/> for connections the guest opens (<c>connect(2, port)</c> in the
    /// guest). A port this process listens on is not forwarded to the Unix socket <c>&lt;uds_path&gt;_&lt;port&gt;</c>.
    /// </summary>
    /// <param name="port">The host port; not 0xFFFFFFFF (VMADDR_PORT_ANY).</param>
    /// <param name="backlog">Connections held for the program until it accepts them (1 to <see cref="MaxBacklog"/>); beyond, the guest gets a reset.</param>
    /// <exception cref="InvalidOperationException">Something in this process already listens on the port.</exception>
    public VsockListener Listen(uint port, int backlog = DefaultBacklog)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfEqual(port, uint.MaxValue);
        ArgumentOutOfRangeException.ThrowIfLessThan(backlog, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(backlog, MaxBacklog);
        var listener = new VsockListener(this, port, backlog);
        if (!_listeners.TryAdd(port, listener))
            throw new InvalidOperationException($"vsock port {port} already has a listener in this process");
        return listener;
    }

    /// <summary>Stops the Unix socket (removing its file) and resets every connection.</summary>
    public void Dispose()
    {
        VsockMuxer? muxer;
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            _unix?.Dispose();
            muxer = _muxer;
            _muxer = null;
        }
        muxer?.Close(new IOException("the launcher stopped"));
        foreach (VsockListener listener in _listeners.Values)
            listener.Dispose();
    }

    /// <summary>Connections go through <paramref name="muxer"/>, the running driver's, until <see cref="Detach"/>.</summary>
    internal void Attach(VsockMuxer muxer) => Volatile.Write(ref _muxer, muxer);

    /// <summary>The driver behind <paramref name="muxer"/> stopped.</summary>
    internal void Detach(VsockMuxer muxer) => Interlocked.CompareExchange(ref _muxer, null, muxer);

    /// <summary>Stops <paramref name="listener"/>'s port being listened on.</summary>
    internal void Unlisten(VsockListener listener) => _listeners.TryRemove(new KeyValuePair<uint, VsockListener>(listener.Port, listener));

    /// <summary>A host program on the Unix socket asked for guest port <paramref name="port"/>: the connection takes <paramref name="socket"/>.</summary>
    internal bool ConnectFromUnixSocket(uint port, Socket socket, out string? refusal)
    {
        VsockMuxer? muxer = Volatile.Read(ref _muxer);
        if (muxer is null)
        {
            refusal = "the guest's vsock driver is not running";
            return false;
        }
        return muxer.Connect(port, new UnixSocketHostEnd(socket), out refusal) is not null;
    }

    /// <inheritdoc />
    bool IVsockAcceptor.TryAccept(VsockConnection connection)
    {
        if (_listeners.TryGetValue(connection.LocalPort, out VsockListener? listener))
        {
            var end = new PipeHostEnd();
            connection.AttachHostEnd(end); // owes the RESPONSE
            if (listener.TryEnqueue(end.Stream))
                return true;
            connection.Abandon(new SocketException((int)SocketError.ConnectionRefused)); // backlog full: the guest gets a RST
            return false;
        }
        if (_unix is { } unix)
        {
            unix.ConnectForGuest(connection);
            return true;
        }
        return false;
    }
}
