using Lguest.Memory;

namespace Lguest.Virtio;

/// <summary>Where the driver put a split virtqueue's three parts (virtio 1.2 §2.7).</summary>
/// <param name="DescriptorTable">The descriptor area: the descriptor table, 16-byte aligned.</param>
/// <param name="AvailableRing">The driver area: the available ring, 2-byte aligned.</param>
/// <param name="UsedRing">The device area: the used ring, 4-byte aligned.</param>
public readonly record struct VringAddresses(GuestAddress DescriptorTable, GuestAddress AvailableRing, GuestAddress UsedRing);
