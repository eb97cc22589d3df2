namespace Lguest.Devices;

/// <summary>A packet's operation (enum virtio_vsock_op, &lt;linux/virtio_vsock.h&gt;; virtio 1.2 §5.10.6).</summary>
internal enum VsockOp : ushort
{
    /// <summary>VIRTIO_VSOCK_OP_INVALID: never valid on the wire.</summary>
    Invalid = 0,

    /// <summary>VIRTIO_VSOCK_OP_REQUEST: asks the peer to accept a connection.</summary>
    Request = 1,

    /// <summary>VIRTIO_VSOCK_OP_RESPONSE: accepts a connection the peer asked for.</summary>
    Response = 2,

    /// <summary>VIRTIO_VSOCK_OP_RST: the connection is gone (refused, reset, or the last step of a close).</summary>
    Reset = 3,

    /// <summary>VIRTIO_VSOCK_OP_SHUTDOWN: the sender will receive and/or send no more (flags).</summary>
    Shutdown = 4,

    /// <summary>VIRTIO_VSOCK_OP_RW: <c>len</c> bytes of stream data follow the header.</summary>
    ReadWrite = 5,

    /// <summary>VIRTIO_VSOCK_OP_CREDIT_UPDATE: only the header's buf_alloc and fwd_cnt matter.</summary>
    CreditUpdate = 6,

    /// <summary>VIRTIO_VSOCK_OP_CREDIT_REQUEST: asks the peer for a credit update.</summary>
    CreditRequest = 7,
}
