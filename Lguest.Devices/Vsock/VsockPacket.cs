using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Devices;

/// <summary>
/// One packet the guest put on the transmit queue (virtio 1.2 §5.10.6.4): its header, copied out of guest
/// memory once and checked against the chain that carried it, and the guest buffers holding its payload.
/// One instance serves every packet of a worker, so parsing costs no allocation once the longest chain
/// has been seen.
/// </summary>
internal sealed class VsockPacket
{
    /// <summary>
    /// VIRTIO_VSOCK_MAX_PKT_BUF_SIZE, the largest payload Linux puts in one packet: the device never sends
    /// more in one, and takes no more from the guest in one (a bigger one resets its connection).
    /// </summary>
    public const int MaxPayload = 64 * 1024;

    private GuestBuffer[] _payload = new GuestBuffer[8];
    private int _payloadCount;

    /// <summary>The header, as copied out of the chain.</summary>
    public VsockHeader Header;

    /// <summary>The op, or <see cref="VsockOp.Invalid"/> when the guest wrote a value that is none.</summary>
    public VsockOp Op => Header.Op is >= (ushort)VsockOp.Request and <= (ushort)VsockOp.CreditRequest ? (VsockOp)Header.Op : VsockOp.Invalid;

    /// <summary>The guest buffers holding an RW packet's <c>len</c> payload bytes (empty for other ops).</summary>
    public ReadOnlySpan<GuestBuffer> Payload => _payload.AsSpan(0, _payloadCount);

    /// <summary>The payload's length: <c>len</c> for RW, 0 otherwise (other ops carry none).</summary>
    public uint PayloadLength { get; private set; }

    /// <summary>
    /// Reads the packet <paramref name="chain"/> carries. A chain that cannot be a packet is the driver's
    /// fault (§5.10.6.4: transmit buffers are device-readable and begin with the header; <c>len</c> says what
    /// follows): the device cannot tell which connection it belonged to, so it is a bad driver.
    /// </summary>
    /// <exception cref="BadDriverException">Device-writable buffers, a chain shorter than the header, or an RW <c>len</c> past its end.</exception>
    public void ReadFrom(GuestMemory memory, DescriptorChain chain, string queue)
    {
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Writable.Length != 0)
            throw new BadDriverException(queue, "device-writable buffer in the vsock transmit queue");
        ulong readable = chain.ReadableLength;
        if (readable < VsockHeader.Size)
            throw new BadDriverException(queue, $"a {readable}-byte transmit chain is shorter than the {VsockHeader.Size}-byte vsock header");
        Span<byte> wire = stackalloc byte[VsockHeader.Size];
        chain.CopyFromReadable(memory, 0, wire);
        Header = VsockHeader.Read(wire);
        _payloadCount = 0;
        PayloadLength = 0;
        if (Header.Op != (ushort)VsockOp.ReadWrite || Header.Length == 0)
            return;

        uint length = Header.Length; // the local copy: checked here, used from here
        if (length > readable - VsockHeader.Size)
            throw new BadDriverException(queue, $"vsock packet len {length} runs past the {readable - VsockHeader.Size} payload bytes of its chain");
        // The payload lies in at most every buffer of the chain, whose length the ring bounds by the queue size.
        if (_payload.Length < chain.Readable.Length)
            Array.Resize(ref _payload, Math.Max(chain.Readable.Length, _payload.Length * 2));
        _payloadCount = DescriptorChain.Slice(chain.Readable, VsockHeader.Size, length, _payload);
        PayloadLength = length;
    }
}
