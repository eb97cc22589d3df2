namespace Lguest.Devices;

/// <summary>Whoever takes the connections a guest opens to host ports (<see cref="VsockHost"/>: its listeners, then Unix sockets).</summary>
internal interface IVsockAcceptor
{
    /// <summary>
    /// Finds a host end for a guest-initiated <paramref name="connection"/> to port <see cref="VsockConnection.LocalPort"/>
    /// and attaches it, now or once it is connected (with the muxer's lock held then too); false when nothing
    /// listens on that port, and the guest gets a RST. Called with the muxer's lock held; must not block.
    /// </summary>
    bool TryAccept(VsockConnection connection);
}
