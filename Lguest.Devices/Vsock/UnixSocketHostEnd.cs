using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Lguest.Devices.Interop;
using Lguest.Memory;

namespace Lguest.Devices;

/// <summary>
/// A connection's host end on a connected Unix stream socket (Firecracker's hybrid vsock): guest data goes from
/// guest memory into the socket with one writev, host data from the socket into guest memory with one readv, both
/// non-blocking. What the socket cannot take now waits in a <see cref="VsockTxBuffer"/>. The socket is watched by the device's worker (its
/// epoll, edge-triggered), which calls <see cref="OnReady"/>: room to write (watched only while bytes are held)
/// flushes them, data to read makes the connection owe the guest a read, all on the thread that moves the data.
/// </summary>
internal sealed class UnixSocketHostEnd : VsockHostEnd
{
    private readonly Socket _socket;
    private readonly VsockTxBuffer _pending = new();
    private bool _endSend;
    private ulong _token;

    /// <summary>
    /// The send buffer asked of the kernel for the socket (which doubles it, up to net.core.wmem_max doubled: 416 KiB
    /// by default): a whole window of the device's credit fits in it, so while the host program keeps up the device
    /// holds none of the guest's bytes itself and tells the guest of its credit at once. The default (208 KiB) is
    /// under one window, and AF_UNIX reports room again only once three quarters of it drained: a streaming guest
    /// waited for that, and for the device's copy of what did not fit, every window.
    /// </summary>
    public const int SendBufferBytes = (int)VsockConnection.BufferSize;

    /// <summary>Takes over <paramref name="socket"/>, connected, and makes it non-blocking.</summary>
    public UnixSocketHostEnd(Socket socket)
    {
        _socket = socket;
        _socket.Blocking = false; // every read and write here must return at once
        _socket.SendBufferSize = SendBufferBytes;
    }

    /// <inheritdoc />
    public override int Pending => _pending.Count;

    /// <inheritdoc />
    protected override void OnAttached() => _token = Connection.Muxer.Watch(_socket.SafeHandle, this);

    /// <inheritdoc />
    public override int Send(GuestMemory memory, ReadOnlySpan<GuestBuffer> payload, uint length)
    {
        if (IsClosed)
            return (int)length;
        int written = 0;
        if (_pending.IsEmpty)
        {
            // The hot path: straight from guest memory into the socket, no copy of ours.
            if (!memory.TryWriteTo(_socket.SafeHandle, payload, out written))
                written = 0;
            if (written == length)
                return written;
            // A short write: the socket is full; the worker hears when it has room again.
            Connection.Muxer.WatchRoom(_socket.SafeHandle, _token, room: true);
        }
        _pending.Append(memory, payload, (ulong)written, (int)length - written);
        return written;
    }

    /// <inheritdoc />
    public override int Receive(GuestMemory memory, ReadOnlySpan<GuestBuffer> into)
    {
        if (IsClosed)
            return 0;
        // Nothing to read now (EAGAIN): the next data makes the worker call OnReady.
        return memory.TryReadFrom(_socket.SafeHandle, into, out int read) ? read : -1;
    }

    /// <summary>
    /// The worker saw <paramref name="events"/> (epoll) on the socket: room to write sends what is held (and the
    /// guest hears of the credit), data or the peer's end to read makes the connection owe the guest a read.
    /// Called with the muxer's lock held.
    /// </summary>
    public void OnReady(uint events)
    {
        if (IsClosed)
            return;
        if ((events & (Epoll.Out | Epoll.Error | Epoll.HangUp)) != 0)
        {
            if (!_pending.IsEmpty)
            {
                int sent;
                try
                {
                    sent = Flush();
                }
                catch (IOException e)
                {
                    Connection.Kill("the host socket failed", e);
                    return;
                }
                if (sent != 0)
                    Connection.OnHostForwarded(sent);
                if (IsClosed)
                    return;
            }
        }
        if ((events & (Epoll.In | Epoll.ReadHangUp | Epoll.HangUp | Epoll.Error)) != 0)
            Connection.OnHostReadable();
    }

    /// <inheritdoc />
    public override void EndSend()
    {
        _endSend = true;
        if (_pending.IsEmpty)
            ShutdownSend();
    }

    /// <summary>Writes Firecracker's acknowledgement, <c>OK &lt;port&gt;\n</c>, to the host program that asked.</summary>
    public override bool Accepted(uint localPort)
    {
        if (IsClosed)
            return false;
        // A few bytes into a socket nobody has written to yet: its empty send buffer takes them at once.
        Span<byte> line = stackalloc byte[16];
        int length = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"OK {localPort}\n"), line);
        return _socket.Send(line[..length], SocketFlags.None, out SocketError error) == length && error == SocketError.Success;
    }

    /// <inheritdoc />
    protected override void OnClose(Exception? failure)
    {
        // The host program reads what is left, then end of file (or ECONNRESET if it had not read all we sent).
        Connection.Muxer.Unwatch(_socket.SafeHandle, _token);
        _socket.Dispose();
        _pending.Release();
    }

    // Sends the held bytes until the socket is full again; returns what went out.
    private int Flush()
    {
        int sent = 0;
        while (!_pending.IsEmpty)
        {
            int n = _socket.Send(_pending.FirstSegment.Span, SocketFlags.None, out SocketError error);
            if (error == SocketError.WouldBlock)
                return sent; // still watched for room
            if (error != SocketError.Success)
                throw new IOException($"the host socket failed: {error}", new SocketException((int)error));
            _pending.Consume(n);
            sent += n;
        }
        _pending.Release();
        Connection.Muxer.WatchRoom(_socket.SafeHandle, _token, room: false);
        if (_endSend)
            ShutdownSend();
        return sent;
    }

    private void ShutdownSend()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // Already gone: the host program has its end of file either way.
        }
    }
}
