using Lguest.Memory;

namespace Lguest.Virtio;

/// <summary>
/// One available descriptor chain as the device sees it: the device-readable buffers, then the
/// device-writable buffers (the seed's out and in iovecs). Every buffer has been checked to lie in
/// guest RAM. A device reuses one instance across pops, so popping costs no allocation once the
/// largest chain has been seen.
/// </summary>
public sealed class DescriptorChain
{
    private GuestBuffer[] _buffers = new GuestBuffer[8];
    private int _count;
    private int _readable;

    /// <summary>The head descriptor's index: what <see cref="Vring.Push"/> returns to the guest.</summary>
    public ushort Head { get; private set; }

    /// <summary>The device-readable buffers, in chain order.</summary>
    public ReadOnlySpan<GuestBuffer> Readable => _buffers.AsSpan(0, _readable);

    /// <summary>The device-writable buffers, in chain order.</summary>
    public ReadOnlySpan<GuestBuffer> Writable => _buffers.AsSpan(_readable, _count - _readable);

    /// <summary>The total length of the readable buffers.</summary>
    public ulong ReadableLength { get; private set; }

    /// <summary>The total length of the writable buffers.</summary>
    public ulong WritableLength { get; private set; }

    /// <summary>
    /// Copies up to <c>destination.Length</c> bytes from the readable buffers, starting
    /// <paramref name="offset"/> bytes in; returns the bytes copied (fewer when the chain is shorter).
    /// </summary>
    public int CopyFromReadable(GuestMemory memory, ulong offset, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(memory);
        int copied = 0;
        foreach (GuestBuffer b in Readable)
        {
            if (copied == destination.Length)
                break;
            if (offset >= b.Length)
            {
                offset -= b.Length;
                continue;
            }
            int n = (int)Math.Min(b.Length - offset, (ulong)(destination.Length - copied));
            memory.Read(b.Address.Offset(offset), destination.Slice(copied, n));
            copied += n;
            offset = 0;
        }
        return copied;
    }

    /// <summary>
    /// Copies <paramref name="source"/> into the writable buffers, starting <paramref name="offset"/>
    /// bytes in; returns the bytes copied (fewer when the chain is shorter).
    /// </summary>
    public int CopyToWritable(GuestMemory memory, ulong offset, ReadOnlySpan<byte> source)
    {
        ArgumentNullException.ThrowIfNull(memory);
        int copied = 0;
        foreach (GuestBuffer b in Writable)
        {
            if (copied == source.Length)
                break;
            if (offset >= b.Length)
            {
                offset -= b.Length;
                continue;
            }
            int n = (int)Math.Min(b.Length - offset, (ulong)(source.Length - copied));
            memory.Write(b.Address.Offset(offset), source.Slice(copied, n));
            copied += n;
            offset = 0;
        }
        return copied;
    }

    /// <summary>
    /// Writes into <paramref name="destination"/> the buffers covering [<paramref name="offset"/>,
    /// +<paramref name="length"/>) of <paramref name="buffers"/> (a request's data without its header
    /// or status byte), for vectored I/O. Returns the number of buffers written; the range must lie
    /// inside the buffers and <paramref name="destination"/> must be long enough.
    /// </summary>
    /// <exception cref="ArgumentException">The range runs past the buffers, or the destination is too short.</exception>
    public static int Slice(ReadOnlySpan<GuestBuffer> buffers, ulong offset, ulong length, Span<GuestBuffer> destination)
    {
        int count = 0;
        foreach (GuestBuffer b in buffers)
        {
            if (length == 0)
                break;
            if (offset >= b.Length)
            {
                offset -= b.Length;
                continue;
            }
            uint n = (uint)Math.Min(b.Length - offset, length);
            if (count == destination.Length)
                throw new ArgumentException("destination has too few entries for the slice", nameof(destination));
            destination[count++] = new GuestBuffer(new GuestAddress(b.Address.Value + offset), n);
            length -= n;
            offset = 0;
        }
        if (length != 0)
            throw new ArgumentException("the range runs past the end of the buffers", nameof(length));
        return count;
    }

    /// <summary>The number of buffers in the chain.</summary>
    public int Count => _count;

    internal void Reset(ushort head)
    {
        Head = head;
        _count = 0;
        _readable = 0;
        ReadableLength = 0;
        WritableLength = 0;
    }

    internal void AddReadable(GuestBuffer buffer)
    {
        Append(buffer);
        _readable++;
        ReadableLength += buffer.Length;
    }

    internal void AddWritable(GuestBuffer buffer)
    {
        Append(buffer);
        WritableLength += buffer.Length;
    }

    private void Append(GuestBuffer buffer)
    {
        // Grows only past the longest chain seen; bounded because the caller bounds chain length.
        if (_count == _buffers.Length)
            Array.Resize(ref _buffers, _buffers.Length * 2);
        _buffers[_count++] = buffer;
    }
}
