using System.Threading.Channels;

namespace Lguest.Devices;

/// <summary>
/// Accepts the connections the guest opens to one host port, in this process (<see cref="VsockHost.Listen"/>).
/// The device answers the guest at once while the backlog has room (as a kernel does for a listening socket)
/// and with a reset when it is full. Disposing it stops listening and resets the connections not yet accepted.
/// </summary>
public sealed class VsockListener : IDisposable
{
    private readonly VsockHost _host;
    private readonly Channel<VsockStream> _backlog;
    private int _disposed;

    internal VsockListener(VsockHost host, uint port, int backlog)
    {
        _host = host;
        Port = port;
        // The backlog bounds what a guest can make the host hold for a program that does not accept.
        _backlog = Channel.CreateBounded<VsockStream>(new BoundedChannelOptions(backlog)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: the device resets the connection
            SingleWriter = true,
            AllowSynchronousContinuations = false, // the program's code never runs under the device's lock
        });
    }

    /// <summary>The host port the guest connects to.</summary>
    public uint Port { get; }

    /// <summary>Waits for the next connection the guest opened to <see cref="Port"/>.</summary>
    /// <exception cref="ObjectDisposedException">The listener was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired first.</exception>
    public async ValueTask<VsockStream> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _backlog.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException e)
        {
            throw new ObjectDisposedException($"the vsock listener on port {Port} was disposed", e);
        }
    }

    /// <summary>Stops listening; connections waiting in the backlog are reset.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _host.Unlisten(this);
        _backlog.Writer.TryComplete();
        while (_backlog.Reader.TryRead(out VsockStream? stream))
            stream.Dispose();
    }

    /// <summary>Queues a connection for <see cref="AcceptAsync"/>; false when the backlog is full or the listener is gone.</summary>
    internal bool TryEnqueue(VsockStream stream) => _backlog.Writer.TryWrite(stream);
}
