using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Tests.Support;

/// <summary>
/// Writes a split virtqueue into real guest memory the way a driver would, so Vring tests run
/// against the same bytes a guest produces. Rings sit at fixed addresses unless told otherwise.
/// </summary>
internal sealed class RingBuilder(GuestMemory memory, int queueSize, ulong features = 0)
{
    public static readonly GuestAddress DefaultDescriptors = new(0x1000);
    public static readonly GuestAddress DefaultAvailable = new(0x3000);
    public static readonly GuestAddress DefaultUsed = new(0x4000);

    private ushort _availIndex;

    public GuestAddress Descriptors { get; init; } = DefaultDescriptors;
    public GuestAddress Available { get; init; } = DefaultAvailable;
    public GuestAddress Used { get; init; } = DefaultUsed;

    public GuestMemory Memory => memory;

    /// <summary>Writes descriptor <paramref name="index"/> of the main table.</summary>
    public RingBuilder Descriptor(int index, ulong address, uint length, bool write = false, int? next = null, bool indirect = false) =>
        DescriptorAt(Descriptors, index, address, length, write, next, indirect);

    /// <summary>Writes entry <paramref name="index"/> of a descriptor table at <paramref name="table"/> (an indirect table).</summary>
    public RingBuilder DescriptorAt(GuestAddress table, int index, ulong address, uint length, bool write = false, int? next = null, bool indirect = false)
    {
        ushort flags = (ushort)((write ? VringDescriptor.FlagWrite : 0)
            | (next is null ? 0 : VringDescriptor.FlagNext)
            | (indirect ? VringDescriptor.FlagIndirect : 0));
        memory.Write(new GuestAddress(table.Value + (ulong)index * VringDescriptor.Size),
            new VringDescriptor(address, length, flags, (ushort)(next ?? 0)));
        return this;
    }

    /// <summary>Puts <paramref name="head"/> in the next available slot and publishes the new index.</summary>
    public RingBuilder MakeAvailable(int head)
    {
        memory.Write(new GuestAddress(Available.Value + 4 + 2UL * (ulong)(_availIndex % queueSize)), (ushort)head);
        _availIndex++;
        memory.WriteUInt16Release(new GuestAddress(Available.Value + 2), _availIndex);
        return this;
    }

    /// <summary>Sets the available index directly (to test a driver that scribbles on it).</summary>
    public RingBuilder AvailableIndex(ushort index)
    {
        _availIndex = index;
        memory.WriteUInt16Release(new GuestAddress(Available.Value + 2), index);
        return this;
    }

    /// <summary>Sets both rings' indices, as if the queue had already been used that many times.</summary>
    public RingBuilder StartAt(ushort index)
    {
        _availIndex = index;
        memory.Write(new GuestAddress(Available.Value + 2), index);
        memory.Write(new GuestAddress(Used.Value + 2), index);
        return this;
    }

    public RingBuilder AvailableFlags(ushort flags)
    {
        memory.Write(Available, flags);
        return this;
    }

    /// <summary>Sets used_event (the driver's interrupt threshold with EVENT_IDX).</summary>
    public RingBuilder UsedEvent(ushort value)
    {
        memory.Write(new GuestAddress(Available.Value + 4 + 2UL * (ulong)queueSize), value);
        return this;
    }

    public ushort UsedIndex => memory.ReadUInt16Acquire(new GuestAddress(Used.Value + 2));

    public ushort UsedFlags => memory.Read<ushort>(Used);

    /// <summary>avail_event, written by the device with EVENT_IDX.</summary>
    public ushort AvailEvent => memory.Read<ushort>(new GuestAddress(Used.Value + 4 + 8UL * (ulong)queueSize));

    public VringUsedElement UsedElement(int slot) =>
        memory.Read<VringUsedElement>(new GuestAddress(Used.Value + 4 + 8UL * (ulong)(slot % queueSize)));

    public VringAddresses Addresses => new(Descriptors, Available, Used);

    public Vring Build(string name = "test vq") => new(memory, name, queueSize, Addresses, features);
}
