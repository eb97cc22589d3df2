using Lguest.Memory;

namespace Lguest.Devices;

/// <summary>
/// The host's end of one vsock connection: where the guest's bytes go and where the bytes for the guest come
/// from. Two kinds: a Unix socket (<see cref="UnixSocketHostEnd"/>, Firecracker's hybrid vsock) and a pair of
/// pipes an in-process .NET program holds (<see cref="PipeHostEnd"/>, behind <see cref="VsockStream"/>).
/// </summary>
/// <remarks>
/// The connection calls every member under its muxer's lock, from the device's worker or from a host event;
/// none of them blocks. What happens later (the host takes held bytes, data arrives, the host end fails or
/// closes) comes back through the connection's <c>Host*</c> and <c>OnHost*</c> methods, never from inside one of
/// these calls: from the worker (a Unix socket's readiness) or a thread-pool thread (a program's pipe).
/// </remarks>
internal abstract class VsockHostEnd
{
    private VsockConnection? _connection;

    /// <summary>The connection this end serves, once attached.</summary>
    protected VsockConnection Connection => _connection ?? throw new InvalidOperationException("the host end is not attached to a connection");

    /// <summary>Whether <see cref="Close"/> has been called.</summary>
    protected bool IsClosed { get; private set; }

    /// <summary>Binds this end to its connection (once).</summary>
    public void Attach(VsockConnection connection)
    {
        if (_connection is not null)
            throw new InvalidOperationException("the host end is already attached");
        _connection = connection;
        OnAttached();
    }

    /// <summary>Called once the end has its connection (with the muxer's lock held): start watching a socket, say.</summary>
    protected virtual void OnAttached()
    {
    }

    /// <summary>
    /// Moves <paramref name="length"/> payload bytes from <paramref name="payload"/> (guest buffers) to the host.
    /// Returns how many the host took at once; the end keeps the rest (the connection made sure they fit the
    /// buffer space it advertised) and reports them through <see cref="VsockConnection.HostForwarded"/> as the
    /// host takes them.
    /// </summary>
    /// <exception cref="IOException">The host side is gone (its peer closed, reset).</exception>
    public abstract int Send(GuestMemory memory, ReadOnlySpan<GuestBuffer> payload, uint length);

    /// <summary>
    /// Writes what <see cref="Send"/> kept to write with the next packets (a Unix socket's one writev per pass of the
    /// transmit queue), before their guest buffers go back to the guest or a packet other than data is handled; what
    /// was taken is reported through <see cref="VsockConnection.OnHostForwarded"/>. Nothing to do by default.
    /// </summary>
    public virtual void FlushGathered()
    {
    }

    /// <summary>Bytes given to <see cref="Send"/> that the host has not taken yet.</summary>
    public abstract int Pending { get; }

    /// <summary>
    /// Reads host bytes for the guest into <paramref name="into"/>: the count (above 0), 0 at the end of the
    /// host's stream, or -1 when there is nothing now; then <see cref="VsockConnection.HostReadable"/> follows
    /// when there is.
    /// </summary>
    /// <exception cref="IOException">The host side failed.</exception>
    public abstract int Receive(GuestMemory memory, ReadOnlySpan<GuestBuffer> into);

    /// <summary>
    /// Whether a <see cref="Receive"/> that gave less than it was asked for emptied the host end, so that what comes
    /// next (data or the end of the stream) is reported through <see cref="VsockConnection.HostReadable"/>: the
    /// connection then does not read again only to hear "nothing now". False: it reads again (the default).
    /// </summary>
    public virtual bool ShortReadDrains => false;

    /// <summary>Whether the host program will take no more data (it closed its reading side): what the guest sends is dropped.</summary>
    public virtual bool IsReceiveDone => false;

    /// <summary>The guest will send no more: end the host's stream once the pending bytes are taken.</summary>
    public abstract void EndSend();

    /// <summary>The guest accepted a connection the host asked for, from <paramref name="localPort"/>; false if the host end cannot be told.</summary>
    public abstract bool Accepted(uint localPort);

    /// <summary>
    /// The connection is over: release everything (idempotent). <paramref name="failure"/> null is an orderly
    /// end (the host sees end-of-stream), else the error a host program sees (a reset, the guest gone).
    /// </summary>
    public void Close(Exception? failure)
    {
        if (IsClosed)
            return;
        IsClosed = true;
        OnClose(failure);
    }

    /// <summary>Releases the end's resources, once; see <see cref="Close"/>.</summary>
    protected abstract void OnClose(Exception? failure);
}
