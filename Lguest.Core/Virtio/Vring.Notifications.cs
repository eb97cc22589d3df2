using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Virtio;

// Suppressing notifications in both directions, virtio 1.2 §2.7.7 (device to driver) and §2.7.10
// (driver to device), with and without VIRTIO_F_EVENT_IDX.
public sealed partial class Vring
{
    private const ushort AvailFlagNoInterrupt = 1; // VIRTQ_AVAIL_F_NO_INTERRUPT
    private const ushort UsedFlagNoNotify = 1;     // VIRTQ_USED_F_NO_NOTIFY

    /// <summary>
    /// Whether the guest wants an interrupt for the chains published since the last time this
    /// returned true. Call after <see cref="PublishUsed"/>; the answer follows the driver's
    /// VIRTQ_AVAIL_F_NO_INTERRUPT flag, or with EVENT_IDX its used_event and the vring_need_event rule.
    /// </summary>
    /// <exception cref="BadDriverException">Without EVENT_IDX, the driver set flags other than 0 or 1.</exception>
    public bool NeedsInterrupt()
    {
        ushort newUsed = _nextUsed;
        ushort oldUsed = _signalledUsed;
        if (newUsed == oldUsed)
            return false;
        _signalledUsed = newUsed;

        // The used index store must be visible before we read the driver's wishes, or both sides
        // can decide the other will act (the lost-wake-up race of §2.7.7.1's note).
        Interlocked.MemoryBarrier();
        if (_eventIndex)
        {
            ushort usedEvent = _memory.Read<ushort>(UsedEventField);
            return NeedEvent(usedEvent, newUsed, oldUsed);
        }
        ushort flags = _memory.Read<ushort>(_avail.Offset(AvailFlagsOffset));
        // §2.7.7.1: without EVENT_IDX the driver MUST set flags to 0 or 1.
        if (flags > AvailFlagNoInterrupt)
            Fail($"avail->flags = {flags} (only 0 or 1 without VIRTIO_F_EVENT_IDX)");
        return (flags & AvailFlagNoInterrupt) == 0;
    }

    /// <summary>
    /// Asks the driver not to notify: the device is busy popping and will look again before it sleeps.
    /// With EVENT_IDX there is nothing to write; the driver notifies only when it passes avail_event.
    /// </summary>
    public void DisableNotifications()
    {
        if (!_eventIndex)
            _memory.Write(_used.Offset(UsedFlagsOffset), UsedFlagNoNotify);
    }

    /// <summary>
    /// Asks the driver to notify on its next available chain, then looks again: returns true when a
    /// chain became available meanwhile (the caller should pop instead of sleeping).
    /// </summary>
    public bool EnableNotifications()
    {
        if (_eventIndex)
            _memory.Write(AvailEventField, _nextAvail);
        else
            _memory.Write(_used.Offset(UsedFlagsOffset), (ushort)0);
        // Our write must be visible before we re-read the index, or a chain added in between goes
        // unnoticed by both sides.
        Interlocked.MemoryBarrier();
        return HasAvailable();
    }

    /// <summary>
    /// Sleeps until the driver makes a chain available, woken by <paramref name="notifier"/> (the
    /// queue's notification, signalled by the transport or by KVM's ioeventfd). Returns false when
    /// <paramref name="stop"/> is signalled first. Never spins.
    /// </summary>
    public bool WaitForAvailable(EventNotifier notifier, EventNotifier stop) => WaitForAvailable(notifier, stop, null);

    /// <summary>
    /// Waits until the driver makes a chain available, as <see cref="WaitForAvailable(EventNotifier, EventNotifier)"/>,
    /// but first polls the available index for <paramref name="poll"/>'s current window with
    /// notifications still suppressed, and adapts the window to how long the work took to come.
    /// Polling gives up at the window's end; then notifications are re-enabled and the index read
    /// again before sleeping, so a chain published at that moment is not lost.
    /// </summary>
    /// <param name="notifier">The queue's notification.</param>
    /// <param name="stop">Ends the wait (false) when signalled; a poll in progress runs to its window's end first.</param>
    /// <param name="poll">The worker's poll window; null or disabled: sleep at once.</param>
    /// <exception cref="BadDriverException">The available index moved by more than the queue size.</exception>
    public bool WaitForAvailable(EventNotifier notifier, EventNotifier stop, PollWindow? poll) => WaitForAvailable(notifier, stop, poll, null);

    /// <summary>
    /// Waits as <see cref="WaitForAvailable(EventNotifier, EventNotifier, PollWindow?)"/>, for a worker that shares
    /// its queue with an inline server (<see cref="DeviceWorkers.ServeNotificationsInline"/>): the caller holds
    /// <paramref name="owner"/> (the queue's <see cref="Virtqueue.Owner"/>), which is let go only while the thread
    /// sleeps on <paramref name="notifier"/> and taken again before anything else. Since a notification may have been
    /// served on the notifying thread meanwhile, which may have handed the worker work of its own (a request it
    /// started but could not finish), every wake-up by <paramref name="notifier"/> returns true, whether a chain is
    /// available or not: the caller looks at its ring and its own state, and waits again when there is nothing.
    /// </summary>
    /// <param name="notifier">The queue's notification.</param>
    /// <param name="stop">Ends the wait (false) when signalled.</param>
    /// <param name="poll">The worker's poll window; null or disabled: sleep at once.</param>
    /// <param name="owner">Held by the caller, let go while asleep; null: as the overload without it.</param>
    /// <exception cref="BadDriverException">The available index moved by more than the queue size.</exception>
    public bool WaitForAvailable(EventNotifier notifier, EventNotifier stop, PollWindow? poll, Lock? owner)
    {
        ArgumentNullException.ThrowIfNull(notifier);
        ArgumentNullException.ThrowIfNull(stop);
        if (HasAvailable())
        {
            DisableNotifications();
            return true;
        }

        long start = 0;
        if (poll is { IsEnabled: true })
        {
            start = poll.Now();
            if (poll.IsOpen && PollAvailable(poll, start))
            {
                // Notifications were never re-enabled: the driver is still told not to notify.
                return true;
            }
        }

        do
        {
            if (EnableNotifications())
                break;
            if (owner is null)
            {
                if (!notifier.Wait(stop))
                    return false;
                continue;
            }
            bool notified;
            owner.Exit();
            try
            {
                notified = notifier.Wait(stop);
            }
            finally
            {
                owner.Enter();
            }
            if (!notified)
                return false;
            break; // the inline server may have left work that is not in the ring: the caller looks
        }
        while (!HasAvailable());
        if (poll is { IsEnabled: true })
            poll.Adjust(start, poll.Now());
        DisableNotifications();
        return true;
    }

    // Spins on the available index until a chain shows up (true) or the window passes (false). Reads
    // only the index and the clock; allocates nothing.
    private bool PollAvailable(PollWindow poll, long start)
    {
        while (true)
        {
            if (HasAvailable())
                return true; // within the window: it stays as it is
            if (poll.HasExpired(start, poll.Now()))
                return false;
            Thread.SpinWait(1);
        }
    }

    // vring_need_event, §2.7.7.2: interrupt when used_event lies in (old, new].
    private static bool NeedEvent(ushort eventIndex, ushort newIndex, ushort oldIndex) =>
        (ushort)(newIndex - eventIndex - 1) < (ushort)(newIndex - oldIndex);
}
