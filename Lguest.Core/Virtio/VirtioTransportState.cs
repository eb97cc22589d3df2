using Lguest.Snapshot;

namespace Lguest.Virtio;

/// <summary>
/// A <see cref="VirtioPciTransport"/> as a snapshot keeps it: the common configuration's registers (virtio 1.2
/// §4.1.4.3), every queue, the ISR byte and the device's own state (<see cref="IVirtioDevice.CaptureState"/>). PCI
/// configuration space and the MSI-X table are records of their own (<see cref="Pci.PciDevice.CaptureConfiguration"/>,
/// <see cref="Pci.MsixState"/>), restored before this one.
/// </summary>
/// <param name="Status">device_status as the driver set it (DEVICE_NEEDS_RESET is <paramref name="NeedsReset"/>).</param>
/// <param name="DeviceFeatureSelect">device_feature_select.</param>
/// <param name="DriverFeatureSelect">driver_feature_select.</param>
/// <param name="DriverFeatures">The features the driver wrote (accepted once FEATURES_OK is set).</param>
/// <param name="DriverFeaturesPast64">Whether the driver wrote a feature bit past 63 (refused at FEATURES_OK).</param>
/// <param name="QueueSelect">queue_select.</param>
/// <param name="FeaturesOkUnread">FEATURES_OK set and the status not read back since (§3.1.1 step 6).</param>
/// <param name="ConfigVector">config_msix_vector.</param>
/// <param name="NeedsReset">The device was in DEVICE_NEEDS_RESET, waiting for the driver to reset it.</param>
/// <param name="Isr">The ISR status byte not yet read by the driver.</param>
/// <param name="Queues">Every queue of the device, in order.</param>
/// <param name="DeviceState">What the device's <see cref="IVirtioDevice.CaptureState"/> returned.</param>
public sealed record VirtioTransportState(
    byte Status, uint DeviceFeatureSelect, uint DriverFeatureSelect, ulong DriverFeatures, bool DriverFeaturesPast64,
    ushort QueueSelect, bool FeaturesOkUnread, ushort ConfigVector, bool NeedsReset, byte Isr,
    IReadOnlyList<VirtioQueueState> Queues, ReadOnlyMemory<byte> DeviceState)
{
    // The record's own fields and a queue's, beside the device's state, all inside one snapshot section.
    private const int MaxDeviceStateSize = SnapshotFormat.MaxSectionSize - 64 - VirtioPciTransport.MaxQueues * 40;

    /// <summary>Encodes the record.</summary>
    public byte[] Encode()
    {
        var w = new SnapshotStateWriter();
        w.WriteByte(Status);
        w.WriteUInt32(DeviceFeatureSelect);
        w.WriteUInt32(DriverFeatureSelect);
        w.WriteUInt64(DriverFeatures);
        w.WriteBoolean(DriverFeaturesPast64);
        w.WriteUInt16(QueueSelect);
        w.WriteBoolean(FeaturesOkUnread);
        w.WriteUInt16(ConfigVector);
        w.WriteBoolean(NeedsReset);
        w.WriteByte(Isr);
        w.WriteUInt32((uint)Queues.Count);
        foreach (VirtioQueueState q in Queues)
        {
            w.WriteUInt16(q.Size);
            w.WriteBoolean(q.Enabled);
            w.WriteUInt64(q.Descriptors);
            w.WriteUInt64(q.Driver);
            w.WriteUInt64(q.Device);
            w.WriteUInt16(q.Vector);
            w.WriteBoolean(q.Ring is not null);
            VringPosition ring = q.Ring.GetValueOrDefault();
            w.WriteUInt16(ring.NextAvail);
            w.WriteUInt16(ring.NextUsed);
            w.WriteUInt16(ring.SignalledUsed);
        }
        w.WriteBytes(DeviceState.Span);
        return w.ToArray();
    }

    /// <summary>
    /// Decodes a record, checking what can be checked without the device: known status bits in the order §3.1.1 sets
    /// them, an ISR of the two defined bits, queue sizes that are powers of two, held chains within a queue's size.
    /// The transport checks the rest against its device when it restores (<see cref="VirtioPciTransport.RestoreState"/>).
    /// </summary>
    /// <exception cref="SnapshotException">Truncated or inconsistent.</exception>
    public static VirtioTransportState Decode(ReadOnlyMemory<byte> data)
    {
        var r = new SnapshotStateReader(data, "a virtio transport's state");
        byte status = r.ReadByte();
        uint deviceSelect = r.ReadUInt32();
        uint driverSelect = r.ReadUInt32();
        ulong features = r.ReadUInt64();
        bool past64 = r.ReadBoolean();
        ushort queueSelect = r.ReadUInt16();
        bool featuresOkUnread = r.ReadBoolean();
        ushort configVector = r.ReadUInt16();
        bool needsReset = r.ReadBoolean();
        byte isr = r.ReadByte();
        int count = r.ReadCount(VirtioPciTransport.MaxQueues, "queues");
        var queues = new VirtioQueueState[count];
        for (int i = 0; i < count; i++)
        {
            ushort size = r.ReadUInt16();
            bool enabled = r.ReadBoolean();
            ulong descriptors = r.ReadUInt64();
            ulong driver = r.ReadUInt64();
            ulong device = r.ReadUInt64();
            ushort vector = r.ReadUInt16();
            bool active = r.ReadBoolean();
            var ring = new VringPosition(r.ReadUInt16(), r.ReadUInt16(), r.ReadUInt16());
            if (size == 0 || size > VirtioPciTransport.MaxQueueSize || !ushort.IsPow2(size))
                throw r.Corrupt($"queue {i}'s size is {size}, not a power of two up to {VirtioPciTransport.MaxQueueSize}");
            if (active && !enabled)
                throw r.Corrupt($"queue {i} was served but not enabled");
            if (active && ring.Held > size)
                throw r.Corrupt($"queue {i}: the device held {ring.Held} chains of a ring of {size}");
            queues[i] = new VirtioQueueState(size, enabled, descriptors, driver, device, vector, active ? ring : null);
        }
        ReadOnlyMemory<byte> deviceState = r.ReadBytes(MaxDeviceStateSize);
        r.RequireEnd();

        var s = (VirtioDeviceStatus)status;
        const VirtioDeviceStatus known = VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk
            | VirtioDeviceStatus.DriverOk | VirtioDeviceStatus.Failed;
        if ((s & ~known) != 0)
            throw r.Corrupt($"device_status 0x{status:x2} holds bits a driver cannot set");
        if (Lacks(s, VirtioDeviceStatus.Driver, VirtioDeviceStatus.Acknowledge) || Lacks(s, VirtioDeviceStatus.FeaturesOk, VirtioDeviceStatus.Driver)
            || Lacks(s, VirtioDeviceStatus.DriverOk, VirtioDeviceStatus.FeaturesOk))
            throw r.Corrupt($"device_status 0x{status:x2} is not a state the driver's steps lead to");
        if ((isr & ~(VirtioPciCommonConfig.IsrQueue | VirtioPciCommonConfig.IsrConfig)) != 0)
            throw r.Corrupt($"the ISR byte 0x{isr:x2} holds bits that are not defined");
        if (queues.Any(q => q.Ring is not null) && (s & VirtioDeviceStatus.DriverOk) == 0)
            throw r.Corrupt("a queue was served before DRIVER_OK");
        return new VirtioTransportState(status, deviceSelect, driverSelect, features, past64, queueSelect, featuresOkUnread, configVector,
            needsReset, isr, queues, deviceState);
    }

    private static bool Lacks(VirtioDeviceStatus status, VirtioDeviceStatus bit, VirtioDeviceStatus needed) =>
        (status & bit) != 0 && (status & needed) == 0;
}
