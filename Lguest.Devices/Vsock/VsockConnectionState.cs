namespace Lguest.Devices;

/// <summary>Where one vsock connection stands (virtio 1.2 §5.10.6.5, seen from the device).</summary>
internal enum VsockConnectionState
{
    /// <summary>The host asked: REQUEST owed or sent to the guest, no RESPONSE yet (Firecracker's LocalInit).</summary>
    Connecting,

    /// <summary>The guest asked: its host end is being connected; RESPONSE follows when it is (PeerInit).</summary>
    Accepting,

    /// <summary>Both ends agreed: data flows, each way within the other's credit.</summary>
    Established,

    /// <summary>The host end is gone: SHUTDOWN with both flags owed or sent, waiting for the guest's RST or the timeout.</summary>
    Closing,

    /// <summary>Over: only the RST to the guest may still be owed, then the connection is forgotten.</summary>
    Dead,
}
