using Lguest.Memory;

namespace Lguest.Virtio;

// Taking available chains: virtio 1.2 §2.7.13 from the device's side, with the seed's checks
// (wait_for_vq_desc) and the ones it lacked.
public sealed partial class Vring
{
    /// <summary>Whether the driver has made a chain available that the device has not popped yet.</summary>
    /// <exception cref="BadDriverException">The available index moved by more than the queue size.</exception>
    public bool HasAvailable() => PendingCount() != 0;

    /// <summary>
    /// How many chains the driver has made available that the device has not popped yet (0 to <see cref="Size"/>): for
    /// a device that serves a lone request one way and a batch another (an inline server that leaves batches to its
    /// worker). Read once: the driver may add more at any time.
    /// </summary>
    /// <exception cref="BadDriverException">The available index moved by more than the queue size.</exception>
    public int AvailableCount() => PendingCount();

    /// <summary>
    /// Pops the next available chain into <paramref name="chain"/> (reused by the caller), or returns
    /// false when none is available.
    /// </summary>
    /// <exception cref="BadDriverException">The chain or the available ring breaks a rule.</exception>
    public bool TryPop(DescriptorChain chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        if (PendingCount() == 0)
            return false;

        // The acquire load of the index in PendingCount orders this read after it.
        ushort head = _memory.Read<ushort>(AvailSlot(_nextAvail));
        _nextAvail++;
        if (head >= Size)
            Fail($"Guest says index {head} is available (beyond queue size {Size})");
        ReadChain(head, chain);
        return true;
    }

    /// <summary>Pops the next available chain into a new <see cref="DescriptorChain"/>.</summary>
    public bool TryPop(out DescriptorChain chain)
    {
        chain = new DescriptorChain();
        return TryPop(chain);
    }

    private int PendingCount()
    {
        ushort availIndex = _memory.ReadUInt16Acquire(_avail.Offset(AvailIndexOffset));
        int pending = (ushort)(availIndex - _nextAvail);
        // More than a ring's worth outstanding can only mean the driver scribbled on the index.
        if (pending > Size)
            Fail($"Guest moved the available index from {_nextAvail} to {availIndex}, more than the queue size {Size}");
        return pending;
    }

    private void ReadChain(ushort head, DescriptorChain chain)
    {
        chain.Reset(head);
        GuestAddress table = _descriptors;
        int tableSize = Size;
        bool inIndirect = false;
        int index = head;

        // Each table is walked at most once per entry: a longer walk means a loop (§2.7.5.3.1: a
        // driver must not create a chain longer than the queue size).
        for (int hops = 1; ; hops++)
        {
            if (hops > tableSize)
                Fail(inIndirect ? "Looped descriptor (the chain loops inside an indirect table)" : "Looped descriptor (the chain loops or is longer than the queue size)");

            // Copy the descriptor once; the guest can rewrite the table while we look at it.
            VringDescriptor d = _memory.Read<VringDescriptor>(new GuestAddress(table.Value + (ulong)index * VringDescriptor.Size));

            if ((d.Flags & VringDescriptor.FlagIndirect) != 0)
            {
                if (!_indirect)
                    Fail("vq indirect not negotiated (an indirect descriptor without VIRTIO_F_INDIRECT_DESC)");
                if (inIndirect)
                    Fail("Indirect within indirect (an indirect table inside an indirect table)");
                if ((d.Flags & VringDescriptor.FlagNext) != 0)
                    Fail("indirect and next together");
                if (d.Length == 0 || d.Length % VringDescriptor.Size != 0)
                    Fail($"Invalid size for indirect table: indirect table length {d.Length} is not a non-zero multiple of {VringDescriptor.Size}");
                int entries = (int)(d.Length / VringDescriptor.Size);
                if (entries > Size)
                    Fail($"indirect has too many entries ({entries}, more than the queue size {Size})");
                if (!_memory.IsValidRange(new GuestAddress(d.Address), d.Length))
                    Fail($"Invalid address: indirect table [0x{d.Address:x}, +0x{d.Length:x}) is outside guest memory");
                table = new GuestAddress(d.Address);
                tableSize = entries;
                inIndirect = true;
                index = 0;
                hops = 0;
                continue;
            }

            var buffer = new GuestBuffer(new GuestAddress(d.Address), d.Length);
            if (!_memory.IsValidRange(buffer.Address, buffer.Length))
                Fail($"Invalid address: descriptor {index} buffer {buffer} is outside guest memory");
            if ((d.Flags & VringDescriptor.FlagWrite) != 0)
                chain.AddWritable(buffer);
            else if (chain.Count != chain.Readable.Length)
                Fail($"Descriptor has out after in (descriptor {index} is device-readable after a device-writable one)");
            else
                chain.AddReadable(buffer);

            if ((d.Flags & VringDescriptor.FlagNext) == 0)
                return;
            if (d.Next >= tableSize)
                Fail($"Desc next is {d.Next} (descriptor {index} has next {d.Next} beyond the table size {tableSize})");
            index = d.Next;
        }
    }
}
