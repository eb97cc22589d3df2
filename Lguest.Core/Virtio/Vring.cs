using System.Diagnostics.CodeAnalysis;
using Lguest.Memory;

namespace Lguest.Virtio;

/// <summary>
/// The device side of a split virtqueue (virtio 1.2 §2.7) over guest memory: pops available
/// descriptor chains, pushes used elements, and decides when to notify either side. The guest owns
/// the rings and may rewrite them at any moment, so every field is read once, checked, and used
/// from the local copy. Any rule broken raises <see cref="BadDriverException"/>.
/// </summary>
/// <remarks>One worker thread drives a given queue; the class is not safe for concurrent pops or pushes.</remarks>
public sealed partial class Vring
{
    /// <summary>The largest queue size the specification allows (§2.7: "Queue Size ... maximum 32768").</summary>
    public const int MaxSize = 32768;

    // Offsets inside the rings, §2.7.6 and §2.7.8.
    private const ulong AvailFlagsOffset = 0;
    private const ulong AvailIndexOffset = 2;
    private const ulong AvailRingOffset = 4;
    private const ulong UsedFlagsOffset = 0;
    private const ulong UsedIndexOffset = 2;
    private const ulong UsedRingOffset = 4;

    private readonly GuestMemory _memory;
    private readonly GuestAddress _descriptors;
    private readonly GuestAddress _avail;
    private readonly GuestAddress _used;
    private readonly bool _eventIndex;
    private readonly bool _indirect;

    private ushort _nextAvail;      // the next available-ring slot the device will consume
    private ushort _nextUsed;       // the used index the device will publish next
    private ushort _signalledUsed;  // the used index when the guest was last considered for an interrupt

    /// <summary>Takes over a queue the driver set up, checking its size and placement.</summary>
    /// <param name="memory">Guest RAM holding the rings.</param>
    /// <param name="name">The queue's name in messages, e.g. "virtio-blk vq 0".</param>
    /// <param name="size">The queue size the driver chose: a power of two, 1 to 32768.</param>
    /// <param name="addresses">The three areas' guest-physical addresses.</param>
    /// <param name="features">The negotiated feature bits (EVENT_IDX and INDIRECT_DESC matter here).</param>
    /// <exception cref="BadDriverException">The size or any area is invalid.</exception>
    public Vring(GuestMemory memory, string name, int size, VringAddresses addresses, ulong features)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(name);
        _memory = memory;
        Name = name;
        if (size < 1 || size > MaxSize || (size & (size - 1)) != 0)
            throw new BadDriverException(name, $"invalid queue size {size}");
        Size = size;
        _eventIndex = (features & VirtioFeatures.RingEventIndex) != 0;
        _indirect = (features & VirtioFeatures.RingIndirectDescriptors) != 0;

        ulong eventField = _eventIndex ? 2UL : 0;
        CheckArea(addresses.DescriptorTable, (ulong)size * VringDescriptor.Size, 16, "descriptor table");
        CheckArea(addresses.AvailableRing, AvailRingOffset + 2UL * (ulong)size + eventField, 2, "available ring");
        CheckArea(addresses.UsedRing, UsedRingOffset + (ulong)VringUsedElement.Size * (ulong)size + eventField, 4, "used ring");
        _descriptors = addresses.DescriptorTable;
        _avail = addresses.AvailableRing;
        _used = addresses.UsedRing;

        // Resume where the ring stands: a freshly set-up queue has both indices at zero, and
        // taking them from memory lets a queue be re-attached (e.g. after a launcher restart).
        _nextUsed = memory.ReadUInt16Acquire(_used.Offset(UsedIndexOffset));
        _nextAvail = _nextUsed;
        _signalledUsed = _nextUsed;
    }

    /// <summary>The queue's name in messages.</summary>
    public string Name { get; }

    /// <summary>The number of descriptors (and ring slots).</summary>
    public int Size { get; }

    /// <summary>Whether VIRTIO_F_EVENT_IDX was negotiated for this queue.</summary>
    public bool EventIndex => _eventIndex;

    /// <summary>Where the driver placed the rings.</summary>
    public VringAddresses Addresses => new(_descriptors, _avail, _used);

    private GuestAddress AvailSlot(ushort index) => new(_avail.Value + AvailRingOffset + 2UL * (ulong)(index % Size));

    private GuestAddress UsedSlot(ushort index) => new(_used.Value + UsedRingOffset + (ulong)VringUsedElement.Size * (ulong)(index % Size));

    // used_event sits after the available ring's slots, avail_event after the used ring's, §2.7.6 and §2.7.8.
    private GuestAddress UsedEventField => new(_avail.Value + AvailRingOffset + 2UL * (ulong)Size);

    private GuestAddress AvailEventField => new(_used.Value + UsedRingOffset + (ulong)VringUsedElement.Size * (ulong)Size);

    private void CheckArea(GuestAddress address, ulong length, ulong alignment, string what)
    {
        if (!address.IsAligned(alignment))
            Fail($"{what} at {address} is not {alignment}-byte aligned");
        if (!_memory.IsValidRange(address, length))
            Fail($"{what} [{address}, +0x{length:x}) is outside guest memory");
    }

    [DoesNotReturn]
    private void Fail(string what) => throw new BadDriverException(Name, what);
}
