using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Virtio;

// The device status state machine (virtio 1.2 §2.1, §3.1.1): reset, ACKNOWLEDGE, DRIVER, feature
// negotiation closed by FEATURES_OK, queue set-up, DRIVER_OK; FAILED from the driver at any time;
// DEVICE_NEEDS_RESET from the device.
public sealed partial class VirtioPciTransport
{
    private const VirtioDeviceStatus DriverStatusBits = VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver
        | VirtioDeviceStatus.FeaturesOk | VirtioDeviceStatus.DriverOk | VirtioDeviceStatus.Failed;

    // The split ring's alignment and sizes (virtio 1.2 §2.7): descriptor table 16 × size at 16 bytes, driver
    // ring flags/idx/ring[size]/used_event at 2 bytes, device ring flags/idx/ring[size]/avail_event at 4.
    private const ulong DescriptorAlignment = 16;
    private const ulong DriverAreaAlignment = 2;
    private const ulong DeviceAreaAlignment = 4;

    // Driver-visible state, under _lock.
    private VirtioDeviceStatus _status;
    private uint _deviceFeatureSelect;
    private uint _driverFeatureSelect;
    private ulong _driverFeatures;
    private bool _driverFeaturesPast64;
    private ushort _queueSelect;
    private bool _featuresOkUnread;
    private ActivationLink? _activation;
    private Virtqueue?[]? _activeQueues;

    private VirtioDeviceStatus CurrentStatus => _broken ? _status | VirtioDeviceStatus.DeviceNeedsReset : _status;

    private void WriteStatus(byte value)
    {
        if (value == 0)
        {
            // §4.1.4.3.1: the device MUST reset when 0 is written, and read 0 once that is done: it is done on return.
            ResetLocked();
            return;
        }

        var wanted = (VirtioDeviceStatus)value;
        VirtioDeviceStatus current = _status;
        // §2.1.1: the driver MUST NOT clear a status bit. (DEVICE_NEEDS_RESET is never in _status: while it
        // shows, the driver's writes other than 0 are ignored before they get here.)
        VirtioDeviceStatus cleared = current & ~wanted;
        if (cleared != 0)
        {
            BadDriver($"unset of device status bit 0x{(byte)current:x} -> 0x{value:x}");
            return;
        }
        VirtioDeviceStatus added = wanted & ~current;
        if ((added & ~DriverStatusBits) != 0)
        {
            BadDriver($"unknown device status bit 0x{(byte)current:x} -> 0x{value:x}");
            return;
        }

        if ((added & VirtioDeviceStatus.Failed) != 0)
        {
            _status |= VirtioDeviceStatus.Failed;
            _logger.DriverFailed(Name);
        }
        if ((added & VirtioDeviceStatus.Acknowledge) != 0)
            _status |= VirtioDeviceStatus.Acknowledge;
        if ((added & VirtioDeviceStatus.Driver) != 0)
        {
            if (!Require(VirtioDeviceStatus.Acknowledge, current, value, "DRIVER before ACKNOWLEDGE"))
                return;
            _status |= VirtioDeviceStatus.Driver;
        }
        if ((added & VirtioDeviceStatus.FeaturesOk) != 0)
        {
            if (!Require(VirtioDeviceStatus.Driver, current, value, "FEATURES_OK before DRIVER"))
                return;
            NegotiateFeatures();
        }
        if ((added & VirtioDeviceStatus.DriverOk) != 0)
        {
            // Also catches DRIVER_OK in the same write as a FEATURES_OK that was refused.
            if (!Require(VirtioDeviceStatus.FeaturesOk, current, value, "DRIVER_OK without FEATURES_OK"))
                return;
            if (_featuresOkUnread)
            {
                BadDriver("did not re-read FEATURES_OK");
                return;
            }
            ActivateLocked();
        }
    }

    // §3.1.1's order, in the seed's words for a step taken too early.
    private bool Require(VirtioDeviceStatus bit, VirtioDeviceStatus current, byte value, string what)
    {
        if ((_status & bit) != 0)
            return true;
        BadDriver($"unexpected status transition 0x{(byte)current:x} -> 0x{value:x} ({what})");
        return false;
    }

    // §2.2.1, §3.1.1 step 5: the device refuses (FEATURES_OK stays clear on read-back) a feature it did not
    // offer, and here, a driver without VIRTIO_F_VERSION_1: there is no legacy interface to fall back to.
    private void NegotiateFeatures()
    {
        bool offered = (_driverFeatures & ~_offeredFeatures) == 0 && !_driverFeaturesPast64;
        if (!offered || (_driverFeatures & VirtioFeatures.Version1) == 0)
        {
            _logger.FeaturesRefused(Name, _driverFeatures, _offeredFeatures);
            return;
        }
        _status |= VirtioDeviceStatus.FeaturesOk;
        _featuresOkUnread = true;
    }

    private void WriteQueueEnable(ushort value)
    {
        int queue = _queueSelect;
        if (queue < _queues.Length && _queues[queue].Enabled)
        {
            BadDriver($"queue {queue} enabled twice");
            return;
        }
        if (!TryGetQueueForSetUp("queue_enable", out queue))
            return;
        if (value != 1)
        {
            // §4.1.4.3.2: the driver MUST NOT write 0 to queue_enable (without VIRTIO_F_RING_RESET, not offered).
            BadDriver($"setting queue_enable to {value} (queue {queue})");
            return;
        }
        if ((_status & VirtioDeviceStatus.DriverOk) != 0)
        {
            // The device takes its queues at DRIVER_OK (§3.1.1 step 7 comes before step 8).
            BadDriver($"enabling vq after DRIVER_OK (queue {queue})");
            return;
        }

        if (QueuePlacementProblem(queue) is string problem)
        {
            BadDriver(problem);
            return;
        }
        _queues[queue].Enabled = true;
    }

    // Why queue_enable may not take the queue as programmed, or null: aligned (§2.7, table "Virtqueue Part Alignment")
    // and wholly inside one RAM region, so the ring code never meets a part that straddles a hole or the end of memory.
    private string? QueuePlacementProblem(int queue)
    {
        ref QueueState q = ref _queues[queue];
        ulong size = q.Size;
        string where = $"queue {queue} (size {size}): descriptors 0x{q.Descriptors:x}, driver area 0x{q.Driver:x}, device area 0x{q.Device:x}";
        if ((q.Descriptors & (DescriptorAlignment - 1)) != 0 || (q.Driver & (DriverAreaAlignment - 1)) != 0 || (q.Device & (DeviceAreaAlignment - 1)) != 0)
            return $"invalid alignment in queue addresses ({where})";
        if (!InRam(q.Descriptors, 16 * size) || !InRam(q.Driver, 6 + 2 * size) || !InRam(q.Device, 6 + 8 * size))
            return $"invalid address: {where}, not all in guest memory";
        // The device writes only the device area, and reads the other two: a device area over either would
        // have the device rewrite its own input (the used index landing in a descriptor's address, say).
        // No driver lays rings out so (§2.7: three separate parts); refused here rather than served.
        if (Overlap(q.Device, 6 + 8 * size, q.Descriptors, 16 * size) || Overlap(q.Device, 6 + 8 * size, q.Driver, 6 + 2 * size))
            return $"invalid queue layout: {where}, the device area overlaps another part";
        return null;
    }

    // Both ranges are inside guest memory (checked first), so neither end can wrap.
    private static bool Overlap(ulong a, ulong aLength, ulong b, ulong bLength) => a < b + bLength && b < a + aLength;

    // Aligned (§2.7, table "Virtqueue Part Alignment", checked above) and wholly inside one RAM region, so the
    // ring code never meets a part that straddles a hole or the end of memory.
    private bool InRam(ulong address, ulong length) => _machine.Memory.IsValidRange(new GuestAddress(address), length);

    private void ActivateLocked(bool restoring = false)
    {
        _status |= VirtioDeviceStatus.DriverOk;
        var link = new ActivationLink(this);
        _activation = link;
        int enabled = 0;
        try
        {
            Virtqueue?[] queues = CreateQueuesLocked(out enabled);
            _device.Activate(new VirtioActivation(_driverFeatures, queues, link));
        }
        catch (Exception e) when (restoring)
        {
            // A restore refuses the snapshot instead: the device would have come back broken.
            RevokeActivationLocked();
            _device.Reset();
            throw new Snapshot.SnapshotException(Snapshot.SnapshotRefusal.Incompatible, $"{Name}: the device cannot be activated again: {e.Message}", e);
        }
        catch (BadDriverException e)
        {
            MarkBroken(e, onVcpu: true);
            return;
        }
#pragma warning disable CA1031 // a device's bug costs that device only: DEVICE_NEEDS_RESET, not the vCPU's run
        catch (Exception e)
#pragma warning restore CA1031
        {
            MarkFailed($"activation failed: {e.Message}", e, onVcpu: true);
            return;
        }
        int events = RegisterNotifyEventsLocked();
        _logger.Activated(Name, _driverFeatures, enabled, events);
    }

    // Back to the state after power-on (§4.1.4.3.1, §2.4): device stopped, features, queues, ISR and
    // selectors cleared, pending notifications dropped, the interrupt lowered.
    private void ResetLocked()
    {
        RevokeActivationLocked();
        _device.Reset();
        foreach (EventNotifier notifier in _notifiers)
            _ = notifier.TryConsume();
        ClearIsr();
        _msix?.ClearPending();
        Volatile.Write(ref _configVector, VirtioPciCommonConfig.NoVector);
        _status = VirtioDeviceStatus.None;
        _deviceFeatureSelect = 0;
        _driverFeatureSelect = 0;
        _driverFeatures = 0;
        _driverFeaturesPast64 = false;
        _queueSelect = 0;
        _featuresOkUnread = false;
        ResetQueues();
        _broken = false;
        _logger.DeviceReset(Name);
    }

    private void RevokeActivationLocked()
    {
        _activation?.Revoke();
        _activation = null;
        Volatile.Write(ref _activeQueues, null);
        DropNotifyEventsLocked();
    }

    // One Vring per enabled queue over the addresses the driver programmed (checked at queue_enable, or by a restore).
    private Virtqueue?[] CreateQueuesLocked(out int enabled)
    {
        enabled = 0;
        var queues = new Virtqueue?[_queues.Length];
        for (int i = 0; i < queues.Length; i++)
        {
            ref QueueState q = ref _queues[i];
            if (!q.Enabled)
                continue;
            var addresses = new VringAddresses(new GuestAddress(q.Descriptors), new GuestAddress(q.Driver), new GuestAddress(q.Device));
            queues[i] = new Virtqueue(i, new Vring(_machine.Memory, $"{Name} vq {i}", q.Size, addresses, _driverFeatures), _notifiers[i]);
            enabled++;
        }
        Volatile.Write(ref _activeQueues, queues);
        return queues;
    }

    private void ResetQueues()
    {
        for (int i = 0; i < _queues.Length; i++)
        {
            _queues[i] = new QueueState { Size = _maxSizes[i] };
            Volatile.Write(ref _queueVectors[i], VirtioPciCommonConfig.NoVector);
        }
    }
}
