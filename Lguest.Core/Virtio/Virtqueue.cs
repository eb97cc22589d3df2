using Lguest.Hypervisor;

namespace Lguest.Virtio;

/// <summary>
/// One virtqueue the driver enabled, as a device receives it at activation: the split ring over guest
/// memory (placement already checked) and the notifier the driver's notifications signal (through
/// KVM's ioeventfd, or the transport's MMIO path). The device's worker for the queue waits on
/// <see cref="Notifier"/>, pops from and pushes to <see cref="Ring"/>, and asks its transport for an
/// interrupt when <see cref="Vring.NeedsInterrupt"/> says so.
/// </summary>
public sealed class Virtqueue
{
    /// <summary>Describes an enabled queue.</summary>
    /// <param name="index">The queue's index in its device.</param>
    /// <param name="ring">The ring.</param>
    /// <param name="notifier">Signalled when the driver notifies the queue.</param>
    public Virtqueue(int index, Vring ring, EventNotifier notifier)
    {
        ArgumentNullException.ThrowIfNull(ring);
        ArgumentNullException.ThrowIfNull(notifier);
        Index = index;
        Ring = ring;
        Notifier = notifier;
    }

    /// <summary>The queue's index in its device.</summary>
    public int Index { get; }

    /// <summary>The split ring, with the features negotiated for it.</summary>
    public Vring Ring { get; }

    /// <summary>Signalled on every driver notification of this queue (signals coalesce).</summary>
    public EventNotifier Notifier { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Ring.Name} size {Ring.Size} at {Ring.Addresses}";
}
