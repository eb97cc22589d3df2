using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Lguest.Memory;

namespace Lguest.Devices;

/// <summary>
/// A connection's host end on a connected Unix stream socket (Firecracker's hybrid vsock): guest data goes
/// from guest memory into the socket with one writev, host data from the socket into guest memory with one
/// readv, both non-blocking. What the socket cannot take now waits in a <see cref="VsockTxBuffer"/> and is sent
/// asynchronously; when it has nothing to read, a zero-byte receive (the runtime's epoll) says when it has.
/// </summary>
// The awaiters of the socket's or pipe's ValueTasks are kept in fields and consumed once, in their completion
// callbacks: the allocation-free way to be told of readiness without an async method per wait.
#pragma warning disable CA2012
internal sealed class UnixSocketHostEnd : VsockHostEnd
{
    // A socket that keeps saying it is readable while reads find nothing is broken: bounds the retries.
    private const int MaxReadinessRetries = 4;

    private readonly Socket _socket;
    private readonly VsockTxBuffer _pending = new();
    private readonly Action _onSent;
    private readonly Action _onReadable;
    private ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter _send;
    private ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter _readable;
    private bool _sending;
    private bool _endSend;

    /// <summary>Takes over <paramref name="socket"/>, connected, and makes it non-blocking.</summary>
    public UnixSocketHostEnd(Socket socket)
    {
        _socket = socket;
        _socket.Blocking = false; // every read and write here must return at once
        _onSent = OnSent;
        _onReadable = OnReadable;
    }

    /// <inheritdoc />
    public override int Pending => _pending.Count;

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
        }
        _pending.Append(memory, payload, (ulong)written, (int)length - written);
        return written + (_sending ? 0 : Flush());
    }

    /// <inheritdoc />
    public override int Receive(GuestMemory memory, ReadOnlySpan<GuestBuffer> into)
    {
        if (IsClosed)
            return 0;
        for (int attempt = 0; attempt < MaxReadinessRetries; attempt++)
        {
            if (memory.TryReadFrom(_socket.SafeHandle, into, out int read))
                return read;
            // Nothing to read: a zero-byte receive completes when there is (or the peer is gone).
            ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter readable =
                _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false).GetAwaiter();
            if (!readable.IsCompleted)
            {
                _readable = readable;
                readable.UnsafeOnCompleted(_onReadable);
                return -1;
            }
            try
            {
                readable.GetResult();
            }
            catch (SocketException e)
            {
                throw new IOException($"the host socket failed: {e.Message}", e);
            }
        }
        throw new IOException("the host socket reports data that reads do not find");
    }

    /// <inheritdoc />
    public override void EndSend()
    {
        _endSend = true;
        if (!_sending)
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
        try
        {
            return _socket.Send(line[..length], SocketFlags.None, out SocketError error) == length && error == SocketError.Success;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    protected override void OnClose(Exception? failure)
    {
        // The host program reads what is left, then end of file (or ECONNRESET if it had not read all we sent).
        _socket.Dispose();
        if (!_sending)
            _pending.Release(); // else the send's completion gives it back: the kernel may still read it
    }

    // Sends the held bytes until the socket would block; returns what went out at once.
    private int Flush()
    {
        int sent = 0;
        while (!_pending.IsEmpty)
        {
            ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter send =
                _socket.SendAsync(_pending.FirstSegment, SocketFlags.None).ConfigureAwait(false).GetAwaiter();
            if (!send.IsCompleted)
            {
                _sending = true;
                _send = send;
                send.UnsafeOnCompleted(_onSent);
                return sent;
            }
            int n = Complete(send);
            _pending.Consume(n);
            sent += n;
        }
        _pending.Release();
        if (_endSend)
            ShutdownSend();
        return sent;
    }

    private void OnSent()
    {
        lock (Connection.Sync)
        {
            _sending = false;
            int sent;
            try
            {
                sent = Complete(_send);
                if (IsClosed)
                {
                    _pending.Release();
                    return;
                }
                _pending.Consume(sent);
                sent += Flush();
            }
            catch (IOException e)
            {
                if (IsClosed)
                    _pending.Release();
                else
                    Connection.Kill("the host socket failed", e);
                return;
            }
            Connection.OnHostForwarded(sent);
        }
    }

    private void OnReadable()
    {
        lock (Connection.Sync)
        {
            try
            {
                _readable.GetResult();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Closed under the wait, or the socket failed: the next read says which.
            }
            if (!IsClosed)
                Connection.OnHostReadable();
        }
    }

    private static int Complete(ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter send)
    {
        try
        {
            return send.GetResult();
        }
        catch (SocketException e)
        {
            throw new IOException($"the host socket failed: {e.Message}", e);
        }
        catch (ObjectDisposedException e)
        {
            throw new IOException("the host socket is closed", e);
        }
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
        catch (ObjectDisposedException)
        {
        }
    }
}
