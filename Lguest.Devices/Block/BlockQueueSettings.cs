namespace Lguest.Devices;

/// <summary>
/// What one request queue of a block device may do beyond IN, OUT, FLUSH and GET_ID, and how it does
/// its I/O: the commands the device offered and the engine.
/// </summary>
/// <param name="Discard">VIRTIO_BLK_F_DISCARD was offered: DISCARD punches holes in the image.</param>
/// <param name="WriteZeroes">VIRTIO_BLK_F_WRITE_ZEROES was offered: WRITE_ZEROES zeroes ranges of the image.</param>
/// <param name="Engine">How IN, OUT and FLUSH reach the image.</param>
/// <param name="MaxInFlight">With io_uring, the most requests the queue keeps in flight.</param>
/// <param name="Merge">With io_uring, adjacent transfers popped together go to the ring as one (BlockRequestQueue.Merge.cs).</param>
/// <param name="ServeOnVcpu">With io_uring or threads, lone small requests are served on the notifying thread (BlockRequestQueue.Inline.cs).</param>
internal sealed record BlockQueueSettings(bool Discard, bool WriteZeroes, VirtioBlockIoEngine Engine, int MaxInFlight, bool Merge = false,
    bool ServeOnVcpu = false)
{
    /// <summary>Blocking calls, no DISCARD or WRITE_ZEROES.</summary>
    public static BlockQueueSettings Plain { get; } = new(false, false, VirtioBlockIoEngine.Sync, 1);
}
