using Lguest.Memory;
using Lguest.Snapshot;

namespace Lguest.Virtio;

// Snapshots of the transport and its queues. Capture reads the registers and, for an active device, each ring's
// indices; restore programs a fresh transport as the driver had, then re-activates the device through the same path as
// DRIVER_OK. A restored Vring starts at the used index found in guest memory, so chains the device had taken but not
// returned are offered to it again: that is right only because every request a device took was completed before the
// snapshot (IVirtioDevice.Pause), leaving nothing used out of order behind the used index.
public sealed partial class VirtioPciTransport
{
    /// <summary>
    /// The transport's registers, its queues and where the device stood in each, and the device's own state
    /// (<see cref="IVirtioDevice.CaptureState"/>). Call while the machine is paused (the device quiescent, no vCPU in
    /// the guest), after the PCI configuration and MSI-X state.
    /// </summary>
    /// <exception cref="SnapshotException">The device cannot take part in snapshots.</exception>
    public VirtioTransportState CaptureState()
    {
        byte[] device = _device.CaptureState();
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var queues = new VirtioQueueState[_queues.Length];
            for (int i = 0; i < queues.Length; i++)
            {
                QueueState q = _queues[i];
                VringPosition? ring = _activeQueues?[i]?.Ring.Position;
                queues[i] = new VirtioQueueState(q.Size, q.Enabled, q.Descriptors, q.Driver, q.Device, Volatile.Read(ref _queueVectors[i]), ring);
            }
            byte isr;
            lock (_isrLock)
                isr = _isr;
            return new VirtioTransportState((byte)_status, _deviceFeatureSelect, _driverFeatureSelect, _driverFeatures, _driverFeaturesPast64,
                _queueSelect, _featuresOkUnread, Volatile.Read(ref _configVector), _broken, isr, queues, device);
        }
    }

    /// <summary>
    /// Takes a snapshot's state into this transport, which must be fresh (never touched by a driver): the device's
    /// state first (<see cref="IVirtioDevice.RestoreState"/>), then the registers and queues, then, when the driver had
    /// set DRIVER_OK, the device is activated again on the same rings (rewound to their used index), pending ISR bits
    /// raised and used buffers not yet signalled signalled. Call after the PCI configuration space and MSI-X table are
    /// restored and guest memory holds the snapshot's RAM.
    /// </summary>
    /// <exception cref="SnapshotException">The state does not fit this device (queues, sizes, features, vectors), a
    /// ring is not where the state says, or the device refuses its state or cannot be activated.</exception>
    /// <exception cref="InvalidOperationException">A driver has already used this transport.</exception>
    public void RestoreState(VirtioTransportState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_status != VirtioDeviceStatus.None || _activation is not null || _broken)
                throw new InvalidOperationException($"{Name}: a snapshot is restored into a fresh transport only");
            // The device first: it names what differs in its own terms (a disk of another size) before the transport
            // would see only the features that follow from it.
            _device.RestoreState(state.DeviceState);
            CheckFits(state);

            for (int i = 0; i < _queues.Length; i++)
            {
                VirtioQueueState q = state.Queues[i];
                _queues[i] = new QueueState { Size = q.Size, Enabled = q.Enabled, Descriptors = q.Descriptors, Driver = q.Driver, Device = q.Device };
                Volatile.Write(ref _queueVectors[i], q.Vector);
            }
            _deviceFeatureSelect = state.DeviceFeatureSelect;
            _driverFeatureSelect = state.DriverFeatureSelect;
            _driverFeatures = state.DriverFeatures;
            _driverFeaturesPast64 = state.DriverFeaturesPast64;
            _queueSelect = state.QueueSelect;
            _featuresOkUnread = state.FeaturesOkUnread;
            Volatile.Write(ref _configVector, state.ConfigVector);
            var status = (VirtioDeviceStatus)state.Status;
            try
            {
                RestoreActivationLocked(state, status);
            }
            catch
            {
                ResetLocked();
                throw;
            }
        }
    }

    private void RestoreActivationLocked(VirtioTransportState state, VirtioDeviceStatus status)
    {
        for (int i = 0; i < _queues.Length; i++)
        {
            if (_queues[i].Enabled && QueuePlacementProblem(i) is string problem)
                throw new SnapshotException(SnapshotRefusal.Corrupt, $"{Name}: {problem}");
        }
        if (state.NeedsReset || (status & VirtioDeviceStatus.DriverOk) == 0)
        {
            // A device waiting for the driver's reset stays stopped, as it was; one not yet live waits for DRIVER_OK.
            _status = status;
            _broken = state.NeedsReset;
        }
        else
        {
            for (int i = 0; i < _queues.Length; i++)
            {
                if (state.Queues[i].Ring is not { } ring)
                    continue;
                ushort used = _machine.Memory.ReadUInt16Acquire(new GuestAddress(_queues[i].Device + 2));
                if (used != ring.NextUsed)
                    throw new SnapshotException(SnapshotRefusal.Corrupt,
                        $"{Name}: queue {i}'s used index in guest memory is {used}; the snapshot's state says {ring.NextUsed}");
            }
            _status = status & ~VirtioDeviceStatus.DriverOk;
            ActivateLocked(restoring: true);
        }
        if (state.Isr != 0)
            RaiseIsr(state.Isr);
        for (int i = 0; i < _queues.Length; i++)
        {
            if (state.Queues[i].Ring is { InterruptOwed: true })
                NotifyUsedBuffers(i);
        }
    }

    // What must match between the snapshot and this transport's device before anything is set.
    private void CheckFits(VirtioTransportState state)
    {
        if (state.Queues.Count != _queues.Length)
            throw Incompatible($"the snapshot's {Name} has {state.Queues.Count} queues; this device has {_queues.Length}");
        if ((state.Status & (byte)VirtioDeviceStatus.FeaturesOk) != 0 && (state.DriverFeatures & ~_offeredFeatures) != 0)
            throw Incompatible($"the snapshot's driver of {Name} accepted features 0x{state.DriverFeatures:x} this device does not offer (0x{_offeredFeatures:x})");
        if (MapVector(state.ConfigVector) != state.ConfigVector)
            throw Incompatible($"{Name}: config_msix_vector {state.ConfigVector} is past this device's MSI-X table");
        for (int i = 0; i < _queues.Length; i++)
        {
            VirtioQueueState q = state.Queues[i];
            if (q.Size > _maxSizes[i])
                throw Incompatible($"{Name}: queue {i} had {q.Size} entries; this device's holds at most {_maxSizes[i]}");
            if (MapVector(q.Vector) != q.Vector)
                throw Incompatible($"{Name}: queue {i}'s vector {q.Vector} is past this device's MSI-X table");
        }
    }

    private static SnapshotException Incompatible(string message) => new(SnapshotRefusal.Incompatible, message);
}
