using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Lguest.Devices.Interop;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// Firecracker's hybrid vsock on the host (its docs/vsock.md): a Unix socket listening at <c>uds_path</c>, where
/// a host program connects, writes <c>CONNECT &lt;port&gt;\n</c> and, once the guest accepts, reads
/// <c>OK &lt;host port&gt;\n</c> before the stream; and for each connection the guest opens to host port P, a
/// connection to the Unix socket <c>&lt;uds_path&gt;_P</c>, where a host program listens (none: the guest gets a RST).
/// </summary>
internal sealed class UnixSocketBackend : IDisposable
{
    /// <summary>
    /// The most host programs connected at once that have not sent their CONNECT line yet: bounds the sockets a
    /// local program can make the launcher hold. Beyond it new ones are closed at once.
    /// </summary>
    public const int MaxPendingHandshakes = 64;

    /// <summary>How long a host program has to send its CONNECT line.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>sun_path's size (&lt;sys/un.h&gt;), terminating NUL included: the longest socket path is one less.</summary>
    public const int MaxPathBytes = 107;

    // The listening socket's queue of connections not yet accepted (the kernel's somaxconn caps it).
    private const int ListenBacklog = 128;

    private readonly VsockHost _host;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly string _device;
    private readonly ILogger _logger;
    private int _handshakes;

    private UnixSocketBackend(string path, Socket listener, VsockHost host, string device, ILogger logger)
    {
        Path = path;
        _listener = listener;
        _host = host;
        _device = device;
        _logger = logger;
        _ = AcceptAsync();
    }

    /// <summary>The listening socket's path (uds_path).</summary>
    public string Path { get; }

    /// <summary>
    /// Listens at <paramref name="path"/>. A socket file left there by a launcher that is gone (nothing accepts
    /// on it) is replaced; anything else at the path is an error.
    /// </summary>
    /// <exception cref="VsockException">The socket cannot be created there.</exception>
    public static UnixSocketBackend Start(string path, VsockHost host, string device, ILogger logger)
    {
        if (Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
            throw new VsockException($"vsock: the socket path '{path}' is longer than {MaxPathBytes} bytes");
        RemoveStaleSocket(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(ListenBacklog);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new VsockException($"vsock: cannot listen on '{path}': {e.Message}", e);
        }
        return new UnixSocketBackend(path, listener, host, device, logger);
    }

    /// <summary>The socket path for guest connections to host port <paramref name="port"/>: <c>&lt;uds_path&gt;_&lt;port&gt;</c>.</summary>
    public string PortPath(uint port) => string.Create(CultureInfo.InvariantCulture, $"{Path}_{port}");

    /// <summary>
    /// Connects a guest-initiated <paramref name="connection"/> to <c>&lt;uds_path&gt;_&lt;port&gt;</c>, off the caller's
    /// thread; the connection gets its host end (and owes its RESPONSE) when the socket connects, a RST if not.
    /// </summary>
    public void ConnectForGuest(VsockConnection connection) =>
        ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Backend.ConnectForGuestAsync(state.Connection),
            (Backend: this, Connection: connection), preferLocal: false);

    /// <summary>Stops accepting and removes the socket file; connections already open are the device's to close.</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested)
            return;
        _stop.Cancel();
        _listener.Dispose();
        try
        {
            if (FileStatus.TypeOf(Path) == FileStatus.Socket)
                File.Delete(Path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        CancellationToken stop = _stop.Token;
        while (!stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (stop.IsCancellationRequested)
                    return;
                if (e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
                {
                    // Out of descriptors: give the host a moment rather than spin; the program retries.
                    await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
                    continue;
                }
                _logger.AcceptFailed(_device, Path, e.Message);
                return;
            }
            if (Interlocked.Increment(ref _handshakes) > MaxPendingHandshakes)
            {
                Interlocked.Decrement(ref _handshakes);
                _logger.HandshakeRefused(_device, Path, "too many connections are still to send their CONNECT line");
                socket.Dispose();
                continue;
            }
            _ = HandshakeAsync(socket);
        }
    }

    private async Task HandshakeAsync(Socket socket)
    {
        bool handedOver = false;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(HandshakeTimeout);
            // One byte at a time: whatever the program sent after the line is the stream's, left for the guest.
            byte[] line = new byte[VsockConnectLine.MaxLength];
            int length = 0;
            while (length < line.Length && (length == 0 || line[length - 1] != (byte)'\n'))
            {
                int n = await socket.ReceiveAsync(line.AsMemory(length, 1), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    _logger.HandshakeRefused(_device, Path, "the program closed before its CONNECT line");
                    return;
                }
                length++;
            }
            if (!VsockConnectLine.TryParse(line.AsSpan(0, length), out uint port, out string? error))
            {
                _logger.HandshakeRefused(_device, Path, error!);
                return;
            }
            handedOver = _host.ConnectFromUnixSocket(port, socket, out string? refusal);
            if (!handedOver)
                _logger.HandshakeRefused(_device, Path, refusal!);
        }
        catch (OperationCanceledException)
        {
            if (!_stop.IsCancellationRequested)
                _logger.HandshakeRefused(_device, Path, "no CONNECT line within the handshake timeout (5 s)");
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _logger.HandshakeRefused(_device, Path, e.Message);
        }
        finally
        {
            Interlocked.Decrement(ref _handshakes);
            if (!handedOver)
                socket.Dispose();
        }
    }

    private async Task ConnectForGuestAsync(VsockConnection connection)
    {
        uint port = connection.LocalPort;
        string path = PortPath(port);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ArgumentException or OperationCanceledException or ObjectDisposedException)
        {
            socket.Dispose();
            _logger.UnixConnectFailed(_device, port, path, e.Message);
            connection.HostFailed($"nothing accepts on {path}", new IOException(e.Message, e));
            return;
        }
        lock (connection.Sync)
        {
            if (connection.State == VsockConnectionState.Accepting)
            {
                connection.AttachHostEnd(new UnixSocketHostEnd(socket));
                return;
            }
        }
        socket.Dispose(); // the guest gave up meanwhile, or the device was reset
    }

    private static void RemoveStaleSocket(string path)
    {
        uint? type;
        try
        {
            type = FileStatus.TypeOf(path);
        }
        catch (IOException e)
        {
            throw new VsockException($"vsock: cannot use '{path}': {e.Message}", e);
        }
        if (type is null)
            return;
        if (type != FileStatus.Socket)
            throw new VsockException($"vsock: '{path}' exists and is not a socket");
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(path); // nothing listens: a socket left by a launcher that is gone
            return;
        }
        catch (SocketException e)
        {
            throw new VsockException($"vsock: cannot use '{path}': {e.Message}", e);
        }
        throw new VsockException($"vsock: '{path}' is in use (a program accepts connections on it)");
    }
}
