namespace Lguest.Virtio;

// The device's indices, for snapshots (VirtioPciTransport.CaptureState). A restored ring is a new Vring over the same
// memory: its constructor takes the used index from the used ring and rewinds the available position to it.
public sealed partial class Vring
{
    /// <summary>
    /// Where the device stands in the ring. Read it only while no worker drives the ring (the device paused or reset):
    /// the indices are the worker's, unsynchronised.
    /// </summary>
    public VringPosition Position => new(_nextAvail, _nextUsed, _signalledUsed);
}
