namespace Lguest.Virtio;

/// <summary>
/// One virtqueue as a snapshot keeps it: what the driver programmed (virtio 1.2 §4.1.4.3) and, for a queue the device
/// was serving, where the device stood in its ring. The rings' contents are in guest memory, which the snapshot keeps.
/// </summary>
/// <param name="Size">queue_size as the driver left it (a power of two up to the device's maximum).</param>
/// <param name="Enabled">queue_enable.</param>
/// <param name="Descriptors">queue_desc: the descriptor table's guest-physical address.</param>
/// <param name="Driver">queue_driver: the available ring's.</param>
/// <param name="Device">queue_device: the used ring's.</param>
/// <param name="Vector">queue_msix_vector (NO_VECTOR, 0xffff, for none).</param>
/// <param name="Ring">The device's position in the ring while the device was active; null otherwise.</param>
public sealed record VirtioQueueState(ushort Size, bool Enabled, ulong Descriptors, ulong Driver, ulong Device, ushort Vector, VringPosition? Ring);
