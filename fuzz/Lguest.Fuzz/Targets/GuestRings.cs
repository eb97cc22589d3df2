using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Fuzz.Targets;

/// <summary>
/// The fixed ring placement of the device targets (virtio-blk, virtio-net-tx), whose input is the guest
/// memory itself: descriptor table at 0, available ring at 0x400, used ring at 0x600 (room for 64
/// entries each), buffers anywhere from 0x1000. And what those targets check after the device ran.
/// </summary>
internal static class GuestRings
{
    public const int Descriptors = 0x0000;
    public const int Available = 0x0400;
    public const int Used = 0x0600;
    public const int MaxQueueSize = 64;

    public static VringAddresses Addresses => new(new GuestAddress(Descriptors), new GuestAddress(Available), new GuestAddress(Used));

    /// <summary>Whether <paramref name="buffer"/> covers any byte of the descriptor table or either ring.</summary>
    public static bool OverlapsRings(GuestBuffer buffer, int size)
    {
        ulong start = buffer.Address.Value, end = start + buffer.Length;
        bool Overlaps(ulong from, ulong to) => start < to && from < end && buffer.Length != 0;
        return Overlaps(Descriptors, Descriptors + 16UL * (ulong)size)
            || Overlaps(Available, Available + 6UL + 2UL * (ulong)size)
            || Overlaps(Used, (ulong)UsedEnd(size));
    }

    /// <summary>The used ring's extent for <paramref name="size"/> entries, avail_event included.</summary>
    public static int UsedEnd(int size) => Used + 4 + 8 * size + 2;

    /// <summary>Queue size and ring features from a mode byte: bits 0-2 log2(size) up to 64, bit 3 INDIRECT_DESC, bit 4 EVENT_IDX.</summary>
    public static (int Size, ulong Features) Mode(byte mode) =>
        (1 << Math.Min(mode & 7, 6), VirtioFeatures.Version1
            | ((mode & 8) != 0 ? VirtioFeatures.RingIndirectDescriptors : 0)
            | ((mode & 16) != 0 ? VirtioFeatures.RingEventIndex : 0));

    /// <summary>
    /// Pops what the device is about to pop, with a ring of its own over the same memory, and returns the
    /// chains (their heads and writable buffers) up to the first the ring refuses.
    /// </summary>
    public static List<(ushort Head, GuestBuffer[] Writable, ulong WritableLength)> Preview(GuestMemory memory, int size, ulong features, int limit)
    {
        var chains = new List<(ushort, GuestBuffer[], ulong)>();
        var shadow = new Vring(memory, "preview", size, Addresses, features);
        var chain = new DescriptorChain();
        try
        {
            while (chains.Count < limit && shadow.TryPop(chain))
                chains.Add((chain.Head, chain.Writable.ToArray(), chain.WritableLength));
        }
        catch (BadDriverException)
        {
        }
        return chains;
    }

    /// <summary>
    /// Checks that RAM differs from <paramref name="before"/> only inside the chains' writable buffers and the
    /// used ring, and that each used element names the chain popped in its turn with a length it could hold.
    /// </summary>
    /// <remarks>
    /// A driver may hand the device a writable buffer over its own rings: the device then rightly writes data
    /// over descriptors it has yet to read, or over used elements it already wrote, and what it pops next is
    /// no longer what <see cref="Preview"/> saw. Such inputs are checked for foreign exceptions only.
    /// </remarks>
    public static void CheckWrites(ReadOnlySpan<byte> ram, ReadOnlySpan<byte> before, int size, ushort usedIndexBefore,
        List<(ushort Head, GuestBuffer[] Writable, ulong WritableLength)> chains, bool allowBufferWrites)
    {
        if (allowBufferWrites && chains.Any(c => c.Writable.Any(b => OverlapsRings(b, size))))
            return;
        var allowed = new bool[ram.Length];
        allowed.AsSpan(Used, UsedEnd(size) - Used).Fill(true);
        if (allowBufferWrites)
        {
            foreach ((_, GuestBuffer[] writable, _) in chains)
            {
                foreach (GuestBuffer b in writable)
                    allowed.AsSpan((int)b.Address.Value, (int)b.Length).Fill(true);
            }
        }
        for (int i = 0; i < ram.Length; i++)
        {
            if (ram[i] != before[i] && !allowed[i])
                throw new InvariantViolationException($"the device wrote guest memory at 0x{i:x}, outside the writable buffers and the used ring");
        }

        ushort usedIndex = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(ram[(Used + 2)..]);
        int published = (ushort)(usedIndex - usedIndexBefore);
        InvariantViolationException.ThrowUnless(published <= chains.Count, $"{published} used elements published for {chains.Count} chains");
        for (int k = 0; k < published; k++)
        {
            int slot = Used + 4 + 8 * ((usedIndexBefore + k) % size);
            uint id = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(ram[slot..]);
            uint length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(ram[(slot + 4)..]);
            InvariantViolationException.ThrowUnless(id == chains[k].Head, $"used element {k} names descriptor {id}, not the head {chains[k].Head} popped");
            InvariantViolationException.ThrowUnless(length <= chains[k].WritableLength, $"used element {k} says {length} bytes written into {chains[k].WritableLength} writable bytes");
        }
    }
}
