namespace Lguest.Devices;

// What the host end reports, from its completions on thread-pool threads: each takes the muxer's lock, so the
// device's workers and the host's programs never see a connection half-changed.
internal sealed partial class VsockConnection
{
    /// <summary>The host end has data (or its end of stream) for the guest.</summary>
    public void HostReadable()
    {
        lock (Sync)
            OnHostReadable();
    }

    /// <summary>As <see cref="HostReadable"/>, with the lock held.</summary>
    public void OnHostReadable()
    {
        if (CanSendData)
            Owe(VsockOwed.ReadWrite);
    }

    /// <summary>The host took <paramref name="bytes"/> more of what the guest sent.</summary>
    public void HostForwarded(int bytes)
    {
        lock (Sync)
            OnHostForwarded(bytes);
    }

    /// <summary>As <see cref="HostForwarded"/>, with the lock held.</summary>
    public void OnHostForwarded(int bytes)
    {
        if (State == VsockConnectionState.Dead)
            return;
        _forwarded += (uint)bytes;
        // A guest that closed while the host program was behind gets its RST once everything is delivered.
        if (_peerShutdown == VsockShutdown.Both && _end is { Pending: 0 })
        {
            Finish();
            return;
        }
        OweCreditUpdateIfLow();
    }

    /// <summary>The host end failed (its peer reset, a write failed): the guest gets a RST.</summary>
    public void HostFailed(string why, Exception failure)
    {
        lock (Sync)
            Kill(why, failure);
    }

    /// <summary>
    /// The host program is done with the connection (it closed both directions): once its last bytes reached
    /// the guest, the guest is asked to close (SHUTDOWN with both flags) and given the shutdown timeout.
    /// </summary>
    public void HostClosed()
    {
        lock (Sync)
            OnHostClosed();
    }

    /// <summary>As <see cref="HostClosed"/>, with the lock held.</summary>
    public void OnHostClosed()
    {
        switch (State)
        {
            case VsockConnectionState.Established when _endOfStreamSent || (_peerShutdown & VsockShutdown.Receive) != 0:
                State = VsockConnectionState.Closing;
                ArmExpiry(VsockMuxer.ShutdownTimeout);
                Owe(VsockOwed.Shutdown);
                break;
            case VsockConnectionState.Established:
                Owe(VsockOwed.ReadWrite); // delivers what is left, then the end of stream (see TryWriteData)
                break;
            case VsockConnectionState.Connecting or VsockConnectionState.Accepting:
                Kill("the host program gave up on the connection", null);
                break;
        }
    }
}
