using Lguest.Memory;

namespace Lguest.Virtio;

// Returning chains to the guest: virtio 1.2 §2.7.8 and §2.7.14.
public sealed partial class Vring
{
    /// <summary>
    /// Returns the chain headed by <paramref name="head"/> to the guest, saying the device wrote
    /// <paramref name="writtenLength"/> bytes into it, and publishes it at once.
    /// </summary>
    public void Push(ushort head, uint writtenLength)
    {
        AddUsed(head, writtenLength);
        PublishUsed();
    }

    /// <summary>
    /// Writes a used element without publishing it: a device finishing a batch adds each chain,
    /// then calls <see cref="PublishUsed"/> once.
    /// </summary>
    public void AddUsed(ushort head, uint writtenLength)
    {
        if (head >= Size)
            throw new ArgumentOutOfRangeException(nameof(head), $"head {head} is beyond queue size {Size}");
        _memory.Write(UsedSlot(_nextUsed), new VringUsedElement(head, writtenLength));
        _nextUsed++;
    }

    /// <summary>
    /// Publishes every element added so far by storing the used index with release semantics: the
    /// guest sees the elements no later than the index.
    /// </summary>
    public void PublishUsed() => _memory.WriteUInt16Release(_used.Offset(UsedIndexOffset), _nextUsed);
}
