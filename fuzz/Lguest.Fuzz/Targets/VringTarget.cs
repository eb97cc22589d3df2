using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Fuzz.Targets;

/// <summary>
/// Split-ring parsing over guest memory (<see cref="Vring"/>): the input is the ring's size, features and
/// placement, then the guest memory the rings live in. Every available chain is popped, checked to lie in
/// RAM, and returned; the device must write nothing but its used ring.
/// </summary>
/// <remarks>
/// Layout: byte 0 = log2(queue size) in bits 0-2 (1 to 128), INDIRECT_DESC in bit 3, EVENT_IDX in bit 4, batched
/// AddUsed/PublishUsed instead of Push in bit 5; then the descriptor table, available ring and used ring
/// addresses as 16-bit values (beyond the 8 KiB of RAM on purpose); the rest is RAM from address 0.
/// </remarks>
public sealed class VringTarget : FuzzTarget, IDisposable
{
    private const int MemorySize = 8192;

    private readonly GuestMemory _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MemorySize));
    private readonly byte[] _before = new byte[MemorySize];
    private readonly byte[] _scratch = new byte[256];
    private readonly DescriptorChain _chain = new();

    /// <inheritdoc />
    public override string Name => "vring";

    /// <inheritdoc />
    public override int MaxInputLength => 7 + MemorySize;

    /// <inheritdoc />
    public void Dispose() => _memory.Dispose();

    /// <inheritdoc />
    protected override void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        byte mode = reader.Byte();
        int size = 1 << (mode & 7);
        ulong features = ((mode & 8) != 0 ? VirtioFeatures.RingIndirectDescriptors : 0) | ((mode & 16) != 0 ? VirtioFeatures.RingEventIndex : 0);
        bool batched = (mode & 32) != 0;
        var addresses = new VringAddresses(new GuestAddress(reader.UInt16()), new GuestAddress(reader.UInt16()), new GuestAddress(reader.UInt16()));

        Span<byte> ram = _memory.GetSpan(GuestAddress.Zero, MemorySize);
        ram.Clear();
        reader.Bytes(MemorySize).CopyTo(ram);
        ram.CopyTo(_before);

        var vring = new Vring(_memory, "fuzz vq", size, addresses, features);
        // The ring passed its checks: from here on it lies inside RAM.
        ulong usedEnd = addresses.UsedRing.Value + 4 + 8UL * (ulong)size + 2;
        InvariantViolationException.ThrowUnless(usedEnd <= MemorySize + 2UL, $"used ring {addresses.UsedRing} of size {size} accepted past the end of RAM");

        for (int popped = 0; popped < size + 2 && vring.TryPop(_chain); popped++)
        {
            InvariantViolationException.ThrowUnless(_chain.Head < size, $"chain head {_chain.Head} beyond queue size {size}");
            InvariantViolationException.ThrowUnless(_chain.Count <= size, $"a chain of {_chain.Count} buffers in a queue of {size}");
            foreach (GuestBuffer b in _chain.Readable)
                InvariantViolationException.ThrowUnless(_memory.IsValidRange(b.Address, b.Length), $"readable buffer {b} outside RAM");
            foreach (GuestBuffer b in _chain.Writable)
                InvariantViolationException.ThrowUnless(_memory.IsValidRange(b.Address, b.Length), $"writable buffer {b} outside RAM");
            _ = _chain.CopyFromReadable(_memory, (ulong)popped, _scratch);
            uint written = (uint)Math.Min(_chain.WritableLength, uint.MaxValue);
            if (batched)
            {
                vring.AddUsed(_chain.Head, written);
            }
            else
            {
                vring.Push(_chain.Head, written);
                _ = vring.NeedsInterrupt();
            }
        }
        if (batched)
        {
            vring.PublishUsed();
            _ = vring.NeedsInterrupt();
        }
        vring.DisableNotifications();
        _ = vring.EnableNotifications();

        // Only the used ring (flags, index, elements, avail_event) may have changed.
        int start = (int)addresses.UsedRing.Value;
        int end = (int)Math.Min(usedEnd, MemorySize);
        InvariantViolationException.ThrowUnless(ram[..start].SequenceEqual(_before.AsSpan(0, start)) && ram[end..].SequenceEqual(_before.AsSpan(end)),
            $"the device wrote guest memory outside its used ring [0x{start:x}, 0x{end:x})");
    }

    /// <inheritdoc />
    public override IEnumerable<KeyValuePair<string, byte[]>> Seeds()
    {
        // Queue of 8: descriptors at 0x100, available ring at 0x200, used ring at 0x300; buffers from 0x1000.
        const int Desc = 0x100, Avail = 0x200, Used = 0x300;
        byte[] Image(Action<byte[]> fill)
        {
            var ram = new byte[0x1100];
            fill(ram);
            return ram;
        }
        byte[] Input(int mode, byte[] ram) => new FuzzInputWriter().Byte(mode).UInt16(Desc).UInt16(Avail).UInt16(Used).Bytes(ram).ToArray();
        void Available(byte[] ram, params int[] heads)
        {
            FuzzInputWriter.Put16(ram, Avail + 2, heads.Length);
            for (int i = 0; i < heads.Length; i++)
                FuzzInputWriter.Put16(ram, Avail + 4 + 2 * i, heads[i]);
        }

        yield return new("two-chains", Input(3, Image(ram =>
        {
            FuzzInputWriter.PutDescriptor(ram, Desc, 0, 0x1000, 16, 1, 1);
            FuzzInputWriter.PutDescriptor(ram, Desc, 1, 0x1010, 64, 2, 0);
            FuzzInputWriter.PutDescriptor(ram, Desc, 2, 0x1050, 8, 2, 0);
            Available(ram, 0, 2);
        })));
        yield return new("indirect-event-idx", Input(3 | 8 | 16 | 32, Image(ram =>
        {
            FuzzInputWriter.PutDescriptor(ram, Desc, 0, 0x1000, 48, 4, 0);
            FuzzInputWriter.PutDescriptor(ram, 0x1000, 0, 0x1080, 16, 1, 1);
            FuzzInputWriter.PutDescriptor(ram, 0x1000, 1, 0x1090, 32, 1, 2);
            FuzzInputWriter.PutDescriptor(ram, 0x1000, 2, 0x10b0, 1, 2, 0);
            FuzzInputWriter.Put16(ram, Avail + 4 + 2 * 8, 1); // used_event
            Available(ram, 0);
        })));
        yield return new("loop", Input(3, Image(ram =>
        {
            FuzzInputWriter.PutDescriptor(ram, Desc, 0, 0x1000, 16, 1, 1);
            FuzzInputWriter.PutDescriptor(ram, Desc, 1, 0x1010, 16, 1, 0);
            Available(ram, 0);
        })));
    }
}
