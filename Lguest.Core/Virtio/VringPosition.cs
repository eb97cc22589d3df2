namespace Lguest.Virtio;

/// <summary>
/// Where a device stands in a split ring (virtio 1.2 §2.7), for snapshots: the three free-running 16-bit indices the
/// device keeps and the guest cannot see. <see cref="NextUsed"/> is also in guest memory (the used ring's idx), since
/// every used element was published before the snapshot.
/// </summary>
/// <param name="NextAvail">The next available-ring slot the device would have consumed.</param>
/// <param name="NextUsed">The used index published last.</param>
/// <param name="SignalledUsed">The used index when the driver was last considered for an interrupt: short of
/// <paramref name="NextUsed"/> when used buffers were published but not yet signalled.</param>
public readonly record struct VringPosition(ushort NextAvail, ushort NextUsed, ushort SignalledUsed)
{
    /// <summary>
    /// Chains the device had taken from the ring and not returned used (held receive buffers, for one): on restore
    /// the ring rewinds to the used index and offers them to the device again.
    /// </summary>
    public int Held => (ushort)(NextAvail - NextUsed);

    /// <summary>Whether used buffers were published since the driver was last considered for an interrupt.</summary>
    public bool InterruptOwed => SignalledUsed != NextUsed;
}
