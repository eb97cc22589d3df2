using System.Buffers;
using Lguest.Memory;

namespace Lguest.Devices;

/// <summary>
/// What the guest sent on one connection that its host socket could not take yet: a ring of at most
/// <see cref="VsockConnection.BufferSize"/> bytes (the credit the device advertises bounds it; the connection
/// resets a guest that sends more). Its memory comes from the shared array pool when the socket first falls
/// behind and goes back as soon as it is drained, so idle and keeping-up connections hold none.
/// </summary>
/// <remarks>Used under the muxer's lock; the one segment being sent stays untouched until it is consumed.</remarks>
internal sealed class VsockTxBuffer
{
    /// <summary>The most bytes the ring holds.</summary>
    public const int Capacity = (int)VsockConnection.BufferSize;

    private byte[]? _array;
    private int _start;

    /// <summary>Bytes held.</summary>
    public int Count { get; private set; }

    /// <summary>Whether nothing is held.</summary>
    public bool IsEmpty => Count == 0;

    /// <summary>The oldest bytes held, as one contiguous piece (the ring's first segment).</summary>
    public ReadOnlyMemory<byte> FirstSegment => _array is null ? ReadOnlyMemory<byte>.Empty : _array.AsMemory(_start, Math.Min(Count, Capacity - _start));

    /// <summary>
    /// Copies <paramref name="length"/> bytes of <paramref name="payload"/>, from <paramref name="skip"/> bytes
    /// in, behind what is held.
    /// </summary>
    /// <exception cref="InvalidOperationException">They do not fit: the caller's credit check failed.</exception>
    public void Append(GuestMemory memory, ReadOnlySpan<GuestBuffer> payload, ulong skip, int length)
    {
        if (length > Capacity - Count)
            throw new InvalidOperationException($"{length} bytes do not fit the {Capacity - Count} free bytes of the connection's buffer");
        _array ??= ArrayPool<byte>.Shared.Rent(Capacity);
        int tail = (_start + Count) % Capacity;
        int left = length;
        foreach (GuestBuffer buffer in payload)
        {
            if (left == 0)
                break;
            if (skip >= buffer.Length)
            {
                skip -= buffer.Length;
                continue;
            }
            ulong offset = skip;
            skip = 0;
            int take = (int)Math.Min(buffer.Length - offset, (ulong)left);
            while (take > 0)
            {
                int piece = Math.Min(take, Capacity - tail);
                memory.Read(buffer.Address.Offset(offset), _array.AsSpan(tail, piece));
                tail = (tail + piece) % Capacity;
                offset += (ulong)piece;
                take -= piece;
                left -= piece;
                Count += piece;
            }
        }
    }

    /// <summary>Drops the oldest <paramref name="bytes"/> (the host took them).</summary>
    public void Consume(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, Count);
        Count -= bytes;
        _start = Count == 0 ? 0 : (_start + bytes) % Capacity;
    }

    /// <summary>Gives the memory back to the pool and forgets what is held.</summary>
    public void Release()
    {
        Count = 0;
        _start = 0;
        if (_array is not null)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = null;
        }
    }
}
