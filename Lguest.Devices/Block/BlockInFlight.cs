using System.Runtime.InteropServices;
using Lguest.Devices.Interop;
using Lguest.Memory;

namespace Lguest.Devices;

/// <summary>
/// The requests one queue has in flight on its io_uring: for each slot the chain's head, where its
/// status byte goes, what to report when it succeeds, and the iovecs the kernel reads (in native memory,
/// so they stay put while the kernel holds them). Allocated once per activation; nothing per request.
/// </summary>
internal sealed unsafe class BlockInFlight : IDisposable
{
    /// <summary>
    /// The most data segments a request in flight may have: Linux's virtio-blk sends at most seg_max
    /// (the queue size − 2, so 254 at the default 256) and at most 256 pages per 1 MiB request. A request
    /// with more (a bigger queue, indirect tables) is served synchronously instead; this bounds the native
    /// memory per slot.
    /// </summary>
    public const int MaxSegments = 256;

    private readonly IoVec* _iovecs;
    private readonly Slot[] _slots;
    private readonly int[] _free;
    private readonly bool[] _inUse;
    // Adjacent requests merged into one submission (a group): each member names the next, -1 ends the list; the
    // first member (the lead) holds the group's iovecs (its own first, then each member's), their count and bytes.
    private readonly int[] _next;
    private readonly int[] _last;
    private readonly int[] _groupSegments;
    private readonly ulong[] _groupLength;
    private int _freeCount;

    public BlockInFlight(int slots)
    {
        _slots = new Slot[slots];
        _free = new int[slots];
        _inUse = new bool[slots];
        _next = new int[slots];
        _last = new int[slots];
        _groupSegments = new int[slots];
        _groupLength = new ulong[slots];
        for (int i = 0; i < slots; i++)
            _free[i] = slots - 1 - i;
        _freeCount = slots;
        // Pages the kernel never touches are never made resident: only the slots in use cost memory.
        _iovecs = (IoVec*)NativeMemory.AllocZeroed((nuint)slots * MaxSegments, (nuint)sizeof(IoVec));
    }

    /// <summary>How many requests are in flight.</summary>
    public int Count => _slots.Length - _freeCount;

    /// <summary>Whether another request can go in flight.</summary>
    public bool HasFree => _freeCount != 0;

    /// <summary>Takes a free slot for a request. Call only when <see cref="HasFree"/>.</summary>
    public int Take(ushort head, GuestAddress status, uint usedOnSuccess, uint type, long offset, ulong length)
    {
        int slot = _free[--_freeCount];
        _inUse[slot] = true;
        _slots[slot] = new Slot(head, status, usedOnSuccess, type, offset, length, 0);
        _next[slot] = -1;
        _last[slot] = slot;
        _groupSegments[slot] = 0;
        _groupLength[slot] = length;
        return slot;
    }

    /// <summary>The slot's iovec array, <see cref="MaxSegments"/> long.</summary>
    public IoVec* IoVecs(int slot) => _iovecs + (nint)slot * MaxSegments;

    /// <summary>Records how many iovecs the slot's request uses.</summary>
    public void SetSegments(int slot, int count)
    {
        _slots[slot] = _slots[slot] with { Segments = count };
        _groupSegments[slot] = count;
    }

    /// <summary>
    /// Appends <paramref name="slot"/>'s request (a lead of its own, not submitted) to the group led by
    /// <paramref name="lead"/>: its iovecs after the group's, when they fit the lead's <see cref="MaxSegments"/>
    /// and the group stays within <paramref name="maxBytes"/>. The caller checked that the request continues the
    /// group (same direction, the next byte of the file).
    /// </summary>
    public bool TryJoin(int lead, int slot, ulong maxBytes)
    {
        int segments = _slots[slot].Segments;
        int at = _groupSegments[lead];
        if (segments > MaxSegments - at || _slots[slot].Length > maxBytes - Math.Min(maxBytes, _groupLength[lead]))
            return false;
        new ReadOnlySpan<IoVec>(IoVecs(slot), segments).CopyTo(new Span<IoVec>(IoVecs(lead) + at, segments));
        _groupSegments[lead] = at + segments;
        _groupLength[lead] += _slots[slot].Length;
        _next[_last[lead]] = slot;
        _last[lead] = slot;
        return true;
    }

    /// <summary>The iovecs of the group <paramref name="lead"/> leads (its own request alone when nothing joined).</summary>
    public int GroupSegments(int lead) => _groupSegments[lead];

    /// <summary>The bytes of the group <paramref name="lead"/> leads.</summary>
    public ulong GroupLength(int lead) => _groupLength[lead];

    /// <summary>The member after <paramref name="slot"/> in its group, or -1.</summary>
    public int Next(int slot) => _next[slot];

    /// <summary>The request in <paramref name="slot"/>.</summary>
    public ref readonly Slot this[int slot] => ref _slots[slot];

    /// <summary>Whether <paramref name="userData"/> (from a completion) names a slot in use.</summary>
    public bool IsInFlight(ulong userData) => userData < (ulong)_slots.Length && _inUse[(int)userData];

    /// <summary>Returns a slot whose request completed.</summary>
    public void Release(int slot)
    {
        _inUse[slot] = false;
        _free[_freeCount++] = slot;
    }

    public void Dispose() => NativeMemory.Free(_iovecs);

    /// <summary>One request in flight.</summary>
    internal readonly record struct Slot(ushort Head, GuestAddress Status, uint UsedOnSuccess, uint Type, long Offset, ulong Length, int Segments);
}
