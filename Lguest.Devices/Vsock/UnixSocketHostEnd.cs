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
    /// <summary>
    /// The most guest buffers gathered for one writev (<see cref="Send"/>): a window of credit in Linux's 4 KiB packets
    /// is 64, a payload in one buffer each; a guest that cuts its payloads finer gets a write per this many.
    /// </summary>
    public const int MaxGathered = 128;

    private readonly Socket _socket;
    private readonly VsockTxBuffer _pending = new();
    private readonly GuestBuffer[] _gathered = new GuestBuffer[MaxGathered];
    private int _gatheredCount;
    private int _gatheredBytes;
    private GuestMemory? _gatheredMemory;
    private bool _endSend;
    private bool _hangUp; // epoll reported the program's end of stream (or an error): a read must see it
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
    public override int Pending => _pending.Count + _gatheredBytes;

    /// <inheritdoc />
    protected override void OnAttached() => _token = Connection.Muxer.Watch(_socket.SafeHandle, this);

    /// <summary>
    /// Takes the guest's payload for the socket. The packets of one pass of the transmit queue are gathered (their
    /// guest buffers named, nothing copied) and written with one writev when the pass ends (<see cref="FlushGathered"/>,
    /// before their chains go back to the guest), where each packet cost its own: a window of Linux's 4 KiB packets
    /// is one system call, and the host program is woken once for it. Bytes gathered count as taken only once
    /// written (<see cref="VsockConnection.OnHostForwarded"/>). Behind bytes the socket could not take, the payload
    /// is copied into the connection's ring at once.
    /// </summary>
    public override int Send(GuestMemory memory, ReadOnlySpan<GuestBuffer> payload, uint length)
    {
        if (IsClosed)
            return (int)length;
        if (!_pending.IsEmpty)
        {
            _pending.Append(memory, payload, 0, (int)length);
            return 0;
        }
        if (_gatheredCount + payload.Length > MaxGathered)
        {
            FlushGathered();
            if (IsClosed)
                return (int)length; // the write failed and reset the connection: as above
            if (!_pending.IsEmpty || payload.Length > MaxGathered)
                return Write(memory, payload, length); // behind held bytes (appended), or alone
        }
        if (_gatheredCount == 0)
        {
            _gatheredMemory = memory;
            Connection.Muxer.Gathered(this);
        }
        payload.CopyTo(_gathered.AsSpan(_gatheredCount));
        _gatheredCount += payload.Length;
        _gatheredBytes += (int)length;
        return 0;
    }

    /// <summary>
    /// Writes what <see cref="Send"/> gathered with one non-blocking writev; what the socket cannot take now is copied
    /// into the connection's ring (the guest buffers go back to the guest next) and waits for room. The connection
    /// hears of what was written. With the muxer's lock held.
    /// </summary>
    public override void FlushGathered()
    {
        if (_gatheredCount == 0)
            return;
        int count = _gatheredCount, bytes = _gatheredBytes;
        GuestMemory memory = _gatheredMemory!;
        _gatheredCount = 0;
        _gatheredBytes = 0;
        _gatheredMemory = null;
        if (IsClosed)
            return;
        int written;
        try
        {
            written = Write(memory, _gathered.AsSpan(0, count), (uint)bytes);
        }
        catch (IOException e)
        {
            Connection.Kill("the host end failed to take data", e);
            return;
        }
        finally
        {
            _gathered.AsSpan(0, count).Clear();
        }
        if (written != 0)
            Connection.OnHostForwarded(written);
        if (_endSend && _pending.IsEmpty && !IsClosed)
            ShutdownSend();
    }

    // The write itself: straight from guest memory into the socket, no copy of ours; a short write keeps the rest.
    private int Write(GuestMemory memory, ReadOnlySpan<GuestBuffer> payload, uint length)
    {
        int written = 0;
        if (_pending.IsEmpty)
        {
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

    /// <summary>
    /// A short read emptied the socket, and the epoll set (edge-triggered) reports the next data it gets; but once it
    /// reported the program's end of stream, which may have come with the data just read, a read must see it.
    /// </summary>
    public override bool ShortReadDrains => !_hangUp;

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
        if ((events & (Epoll.ReadHangUp | Epoll.HangUp | Epoll.Error)) != 0)
            _hangUp = true;
        if ((events & (Epoll.In | Epoll.ReadHangUp | Epoll.HangUp | Epoll.Error)) != 0)
            Connection.OnHostReadable();
    }

    /// <inheritdoc />
    public override void EndSend()
    {
        _endSend = true;
        if (_pending.IsEmpty && _gatheredCount == 0)
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
        _gathered.AsSpan(0, _gatheredCount).Clear(); // what the guest sent last goes nowhere, as what was held
        _gatheredCount = 0;
        _gatheredBytes = 0;
        _gatheredMemory = null;
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
