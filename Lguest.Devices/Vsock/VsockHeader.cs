using System.Buffers.Binary;

namespace Lguest.Devices;

/// <summary>
/// struct virtio_vsock_hdr (&lt;linux/virtio_vsock.h&gt;, virtio 1.2 §5.10.6): 44 packed little-endian bytes in
/// front of every packet. Read from guest memory once into this copy, and every field checked here, never
/// in guest memory again: the guest can rewrite its buffer while the device looks at it.
/// </summary>
internal struct VsockHeader
{
    /// <summary>sizeof(struct virtio_vsock_hdr); a test checks it against the C header.</summary>
    public const int Size = 44;

    /// <summary>VMADDR_CID_HOST (&lt;linux/vm_sockets.h&gt;): the host's address, the only one the guest may reach here.</summary>
    public const ulong HostCid = 2;

    /// <summary>VIRTIO_VSOCK_TYPE_STREAM: the only socket type offered (VIRTIO_VSOCK_F_SEQPACKET is not).</summary>
    public const ushort TypeStream = 1;

    // Field offsets, in <linux/virtio_vsock.h>'s order; checked against the C header by a test.
    internal const int SourceCidOffset = 0, DestinationCidOffset = 8, SourcePortOffset = 16, DestinationPortOffset = 20,
        LengthOffset = 24, TypeOffset = 28, OpOffset = 30, FlagsOffset = 32, BufferAllocationOffset = 36, ForwardCountOffset = 40;

    /// <summary>src_cid.</summary>
    public ulong SourceCid;

    /// <summary>dst_cid.</summary>
    public ulong DestinationCid;

    /// <summary>src_port.</summary>
    public uint SourcePort;

    /// <summary>dst_port.</summary>
    public uint DestinationPort;

    /// <summary>len: the payload's length (RW only).</summary>
    public uint Length;

    /// <summary>type (enum virtio_vsock_type).</summary>
    public ushort Type;

    /// <summary>op (enum virtio_vsock_op), as the guest wrote it: any 16-bit value.</summary>
    public ushort Op;

    /// <summary>flags: the shutdown flags for SHUTDOWN, unused otherwise.</summary>
    public uint Flags;

    /// <summary>buf_alloc: the sender's receive buffer for this connection.</summary>
    public uint BufferAllocation;

    /// <summary>fwd_cnt: the bytes the sender has taken out of that buffer, ever (wrapping).</summary>
    public uint ForwardCount;

    /// <summary>Reads a header from its 44 wire bytes.</summary>
    public static VsockHeader Read(ReadOnlySpan<byte> wire) => new()
    {
        SourceCid = BinaryPrimitives.ReadUInt64LittleEndian(wire[SourceCidOffset..]),
        DestinationCid = BinaryPrimitives.ReadUInt64LittleEndian(wire[DestinationCidOffset..]),
        SourcePort = BinaryPrimitives.ReadUInt32LittleEndian(wire[SourcePortOffset..]),
        DestinationPort = BinaryPrimitives.ReadUInt32LittleEndian(wire[DestinationPortOffset..]),
        Length = BinaryPrimitives.ReadUInt32LittleEndian(wire[LengthOffset..]),
        Type = BinaryPrimitives.ReadUInt16LittleEndian(wire[TypeOffset..]),
        Op = BinaryPrimitives.ReadUInt16LittleEndian(wire[OpOffset..]),
        Flags = BinaryPrimitives.ReadUInt32LittleEndian(wire[FlagsOffset..]),
        BufferAllocation = BinaryPrimitives.ReadUInt32LittleEndian(wire[BufferAllocationOffset..]),
        ForwardCount = BinaryPrimitives.ReadUInt32LittleEndian(wire[ForwardCountOffset..]),
    };

    /// <summary>Writes the header's 44 wire bytes.</summary>
    public readonly void Write(Span<byte> wire)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(wire[SourceCidOffset..], SourceCid);
        BinaryPrimitives.WriteUInt64LittleEndian(wire[DestinationCidOffset..], DestinationCid);
        BinaryPrimitives.WriteUInt32LittleEndian(wire[SourcePortOffset..], SourcePort);
        BinaryPrimitives.WriteUInt32LittleEndian(wire[DestinationPortOffset..], DestinationPort);
        BinaryPrimitives.WriteUInt32LittleEndian(wire[LengthOffset..], Length);
        BinaryPrimitives.WriteUInt16LittleEndian(wire[TypeOffset..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(wire[OpOffset..], Op);
        BinaryPrimitives.WriteUInt32LittleEndian(wire[FlagsOffset..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(wire[BufferAllocationOffset..], BufferAllocation);
        BinaryPrimitives.WriteUInt32LittleEndian(wire[ForwardCountOffset..], ForwardCount);
    }

    /// <inheritdoc />
    public override readonly string ToString() =>
        $"{SourceCid}:{SourcePort} -> {DestinationCid}:{DestinationPort} op {Op} type {Type} len {Length} flags {Flags} buf_alloc {BufferAllocation} fwd_cnt {ForwardCount}";
}
