using Lguest.Memory;

namespace Lguest.Tests.Support;

/// <summary>A bump allocator over guest RAM for a test driver's buffers and indirect tables.</summary>
internal sealed class GuestArena(GuestAddress start, ulong length)
{
    private ulong _next = start.Value;

    /// <summary>The next <paramref name="size"/> bytes, 16-byte aligned (descriptor tables need it).</summary>
    public GuestAddress Allocate(ulong size)
    {
        ulong address = (_next + 15) & ~15UL;
        if (address + size > start.Value + length)
            throw new InvalidOperationException("the test arena is full");
        _next = address + size;
        return new GuestAddress(address);
    }

    /// <summary>Forgets every allocation (the driver reuses the space for the next round).</summary>
    public void Reset() => _next = start.Value;
}
