namespace Lguest.Devices;

/// <summary>VIRTIO_VSOCK_OP_SHUTDOWN's flags (enum virtio_vsock_shutdown): what the sender gives up, for good.</summary>
[Flags]
internal enum VsockShutdown : uint
{
    /// <summary>Nothing given up yet.</summary>
    None = 0,

    /// <summary>VIRTIO_VSOCK_SHUTDOWN_RCV: the sender will receive no more data.</summary>
    Receive = 1,

    /// <summary>VIRTIO_VSOCK_SHUTDOWN_SEND: the sender will send no more data.</summary>
    Send = 2,

    /// <summary>Both: the connection is being closed.</summary>
    Both = Receive | Send,
}
