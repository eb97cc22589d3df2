using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Virtio;

// Driver notifications (virtio 1.2 §4.1.4.4): a 16-bit write at queue n's slot of the notification area
// signals that queue's EventNotifier, which the device's worker sleeps on. At DRIVER_OK, and whenever the
// BAR moves, the transport asks the backend to signal the notifier itself (KVM ioeventfd), so on KVM
// the write never leaves the kernel and the vCPU thread does no device work at all. A queue the device serves
// inline (DeviceWorkers.ServeNotificationsInline, QEMU's ioeventfd=off) gets no ioeventfd: its notifications exit
// to this path, which hands them to the queue's Notify on the vCPU thread.
public sealed partial class VirtioPciTransport
{
    private void WriteNotify(int offset, ReadOnlySpan<byte> data)
    {
        // Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index; the slot already names the queue,
        // and an ioeventfd without datamatch does not look at the value either, so neither does this path.
        int queue = offset / NotifyOffMultiplier;
        if (offset % NotifyOffMultiplier != 0 || data.Length != NotifyWidth || queue >= _notifiers.Length)
        {
            ReportRegisterMisuse($"Invalid vq notification on {queue} ({data.Length} byte(s) at 0x{NotifyOffset + offset:x}: {_notifiers.Length} queue slot(s) of {NotifyOffMultiplier} bytes, written 2 bytes at a time)");
            return;
        }
        // The queues of the current activation (null before DRIVER_OK and after a reset: then only the notifier).
        Virtqueue?[]? active = Volatile.Read(ref _activeQueues);
        if (active is not null && queue < active.Length && active[queue] is { } virtqueue)
            virtqueue.Notify();
        else
            _notifiers[queue].Signal();
    }

    // Returns the number of queues whose notifications the backend now takes.
    private int RegisterNotifyEventsLocked()
    {
        DropNotifyEventsLocked();
        if (_activation is null || _bar.MappedAddress is not { } bar)
            return 0;
        int registered = 0;
        for (int i = 0; i < _queues.Length; i++)
        {
            if (!_queues[i].Enabled || _activeQueues?[i] is { ServesNotificationsInline: true })
                continue;
            GuestAddress slot = bar.Offset((ulong)(NotifyOffset + i * NotifyOffMultiplier));
            try
            {
                if (_machine.TryRegisterNotifyEvent(slot, NotifyWidth, _notifiers[i], out IDisposable? registration))
                {
                    _notifyEvents[i] = registration;
                    registered++;
                }
            }
            catch (HypervisorException e)
            {
                // The guest chose the address; whatever the backend disliked about it, the MMIO path
                // below still delivers the notification, one vCPU exit each.
                _logger.NotifyEventRefused(Name, i, slot, e.Message);
            }
        }
        return registered;
    }

    private void DropNotifyEventsLocked()
    {
        for (int i = 0; i < _notifyEvents.Length; i++)
        {
            _notifyEvents[i]?.Dispose();
            _notifyEvents[i] = null;
        }
    }
}
