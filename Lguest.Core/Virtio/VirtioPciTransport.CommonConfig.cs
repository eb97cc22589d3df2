using System.Buffers.Binary;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Virtio;

// The BAR's register map: dispatch by region, and struct virtio_pci_common_cfg (virtio 1.2 §4.1.4.3).
// Every field is accessed at its natural width (§4.1.3.1: 64-bit fields also as two 32-bit halves);
// anything else is a bad driver.
public sealed partial class VirtioPciTransport
{
    // The common configuration's fields, for messages about accesses that miss them.
    private static readonly (int Offset, int Width, string Name)[] CommonFields =
    [
        (DeviceFeatureSelect, 4, "device_feature_select"), (DeviceFeature, 4, "device_feature"),
        (DriverFeatureSelect, 4, "driver_feature_select"), (DriverFeature, 4, "driver_feature"),
        (ConfigMsixVector, 2, "config_msix_vector"), (NumQueues, 2, "num_queues"),
        (DeviceStatus, 1, "device_status"), (ConfigGeneration, 1, "config_generation"),
        (QueueSelect, 2, "queue_select"), (QueueSize, 2, "queue_size"), (QueueMsixVector, 2, "queue_msix_vector"),
        (QueueEnable, 2, "queue_enable"), (QueueNotifyOff, 2, "queue_notify_off"),
        (QueueDesc, 8, "queue_desc"), (QueueDriver, 8, "queue_driver"), (QueueDevice, 8, "queue_device"),
    ];

    private void ReadBar(ulong offset, Span<byte> data)
    {
        int width = data.Length;
        data.Clear();
        if (offset >= _barSize || width is not (1 or 2 or 4 or 8))
        {
            ReportRegisterMisuse($"{width}-byte read at BAR offset 0x{offset:x}");
            return;
        }
        int at = (int)offset;
        if (at >= MsixTableOffset)
            ReadMsix(at, data);
        else if (at < IsrOffset)
            ReadCommon(at, data);
        else if (at < DeviceConfigOffset)
            ReadIsr(at - IsrOffset, data);
        else if (at < NotifyOffset)
            ReadDeviceConfig(at - DeviceConfigOffset, data);
        else
            ReportRegisterMisuse($"read of the notification area at 0x{at:x} (it is write-only)");
    }

    private void WriteBar(ulong offset, ReadOnlySpan<byte> data)
    {
        int width = data.Length;
        if (offset >= _barSize || width is not (1 or 2 or 4 or 8))
        {
            ReportRegisterMisuse($"{width}-byte write at BAR offset 0x{offset:x}");
            return;
        }
        int at = (int)offset;
        if (at >= MsixTableOffset)
            WriteMsix(at, data);
        else if (at >= NotifyOffset)
            WriteNotify(at - NotifyOffset, data);
        else if (at < IsrOffset)
            WriteCommon(at, data);
        else if (at < DeviceConfigOffset)
            ReportRegisterMisuse($"Unexpected write to isr ({width} byte(s) at 0x{at:x})");
        else
            WriteDeviceConfig(at - DeviceConfigOffset, data);
    }

    private void ReadCommon(int offset, Span<byte> data)
    {
        lock (_lock)
        {
            if (!TryReadCommonLocked(offset, data.Length, out ulong value))
            {
                BadDriver(DescribeMiss("read", offset, data.Length));
                return;
            }
            Store(data, value);
        }
    }

    private void WriteCommon(int offset, ReadOnlySpan<byte> data)
    {
        ulong value = Load(data);
        lock (_lock)
        {
            // A broken device ignores the driver until it resets it (writes 0 to device_status).
            if (_broken && !(offset == DeviceStatus && data.Length == 1 && value == 0))
                return;
            if (!TryWriteCommonLocked(offset, data.Length, value))
                BadDriver(DescribeMiss("write", offset, data.Length));
        }
    }

    private bool TryReadCommonLocked(int offset, int width, out ulong value)
    {
        value = 0;
        switch (offset)
        {
            case DeviceFeatureSelect:
                value = _deviceFeatureSelect;
                return width == 4;
            case DeviceFeature:
                // §4.1.4.3.1: bits device_feature_select × 32 onwards; nothing is offered past bit 63.
                value = _deviceFeatureSelect switch { 0 => (uint)_offeredFeatures, 1 => (uint)(_offeredFeatures >> 32), _ => 0 };
                return width == 4;
            case DriverFeatureSelect:
                value = _driverFeatureSelect;
                return width == 4;
            case DriverFeature:
                value = _driverFeatureSelect switch { 0 => (uint)_driverFeatures, 1 => (uint)(_driverFeatures >> 32), _ => 0 };
                return width == 4;
            case ConfigMsixVector:
                value = _configVector;
                return width == 2;
            case NumQueues:
                value = (ulong)_queues.Length;
                return width == 2;
            case DeviceStatus:
                if (width != 1)
                    return false;
                _featuresOkUnread = false; // §3.1.1 step 6: the driver re-read the status after FEATURES_OK
                value = (byte)CurrentStatus;
                return true;
            case ConfigGeneration:
                value = _device.ConfigGeneration;
                return width == 1;
            case QueueSelect:
                value = _queueSelect;
                return width == 2;
            case QueueSize:
                // §4.1.4.3.1: 0 for a queue that does not exist.
                value = _queueSelect < _queues.Length ? _queues[_queueSelect].Size : 0u;
                return width == 2;
            case QueueMsixVector:
                value = _queueSelect < _queues.Length ? Volatile.Read(ref _queueVectors[_queueSelect]) : NoVector;
                return width == 2;
            case QueueEnable:
                value = _queueSelect < _queues.Length && _queues[_queueSelect].Enabled ? 1u : 0u;
                return width == 2;
            case QueueNotifyOff:
                value = _queueSelect < _queues.Length ? _queueSelect : 0u;
                return width == 2;
            default:
                if (!TryLocateQueueAddress(offset, width, out int field, out int shift))
                    return false;
                if (_queueSelect < _queues.Length)
                {
                    ref QueueState q = ref _queues[_queueSelect];
                    ulong address = field switch { 0 => q.Descriptors, 1 => q.Driver, _ => q.Device };
                    value = address >> shift;
                }
                return true;
        }
    }

    private bool TryWriteCommonLocked(int offset, int width, ulong value)
    {
        switch (offset)
        {
            case DeviceFeatureSelect when width == 4:
                _deviceFeatureSelect = (uint)value;
                return true;
            case DriverFeatureSelect when width == 4:
                _driverFeatureSelect = (uint)value;
                return true;
            case DriverFeature when width == 4:
                WriteDriverFeatures((uint)value);
                return true;
            case ConfigMsixVector when width == 2:
                Volatile.Write(ref _configVector, MapVector((ushort)value));
                return true;
            case QueueMsixVector when width == 2:
                // A queue that does not exist has no vector to map; the write is void, as queue_size's read is 0.
                if (_queueSelect < _queues.Length)
                    Volatile.Write(ref _queueVectors[_queueSelect], MapVector((ushort)value));
                return true;
            case DeviceStatus when width == 1:
                WriteStatus((byte)value);
                return true;
            case QueueSelect when width == 2:
                _queueSelect = (ushort)value;
                return true;
            case QueueSize when width == 2:
                WriteQueueSize((ushort)value);
                return true;
            case QueueEnable when width == 2:
                WriteQueueEnable((ushort)value);
                return true;
            case DeviceFeature when width == 4:
            case NumQueues when width == 2:
            case ConfigGeneration when width == 1:
            case QueueNotifyOff when width == 2:
                // §4.1.4.3.2: the driver MUST NOT write to device_feature, num_queues, config_generation or queue_notify_off.
                BadDriver(offset == QueueNotifyOff
                    ? $"attempt to write to queue_notify_off (0x{value:x})"
                    : $"Unexpected write to offset {offset} (0x{value:x} to read-only {FieldName(offset)})");
                return true;
            default:
                if (!TryLocateQueueAddress(offset, width, out int field, out int shift))
                    return false;
                WriteQueueAddress(field, shift, width, value);
                return true;
        }
    }

    // queue_desc, queue_driver, queue_device: whole (8 bytes) or by halves (4 bytes at +0 or +4).
    private static bool TryLocateQueueAddress(int offset, int width, out int field, out int shift)
    {
        field = (offset - QueueDesc) >> 3;
        int half = (offset - QueueDesc) & 7;
        shift = half * 8;
        return offset >= QueueDesc && offset < Size && (half == 0 ? width is 4 or 8 : half == 4 && width == 4);
    }

    private void WriteDriverFeatures(uint value)
    {
        // §3.1.1: features are written after DRIVER and before FEATURES_OK, never after.
        if ((_status & VirtioDeviceStatus.Driver) == 0)
        {
            BadDriver("feature write before VIRTIO_CONFIG_S_DRIVER");
            return;
        }
        if ((_status & VirtioDeviceStatus.FeaturesOk) != 0)
        {
            BadDriver("feature write after VIRTIO_CONFIG_S_FEATURES_OK");
            return;
        }
        switch (_driverFeatureSelect)
        {
            case 0:
                _driverFeatures = (_driverFeatures & 0xffff_ffff_0000_0000) | value;
                break;
            case 1:
                _driverFeatures = (_driverFeatures & 0xffff_ffff) | ((ulong)value << 32);
                break;
            default:
                // Nothing is offered past bit 63: a bit accepted there is refused at FEATURES_OK (§2.2.1).
                _driverFeaturesPast64 |= value != 0;
                break;
        }
    }

    private void WriteQueueSize(ushort size)
    {
        if (!TryGetQueueForSetUp("queue_size", out int queue))
            return;
        // §4.1.4.3.2: a power of two, and no larger than the device's maximum (what queue_size read on reset).
        if (size == 0 || !ushort.IsPow2(size) || size > _maxSizes[queue])
        {
            BadDriver($"invalid queue size {size} (queue {queue}: a power of two up to {_maxSizes[queue]})");
            return;
        }
        _queues[queue].Size = size;
    }

    private void WriteQueueAddress(int field, int shift, int width, ulong value)
    {
        if (!TryGetQueueForSetUp(field switch { 0 => "queue_desc", 1 => "queue_driver", _ => "queue_device" }, out int queue))
            return;
        ref QueueState q = ref _queues[queue];
        ref ulong address = ref (field == 0 ? ref q.Descriptors : ref (field == 1 ? ref q.Driver : ref q.Device));
        ulong mask = width == 8 ? ulong.MaxValue : 0xffff_ffffUL << shift;
        address = (address & ~mask) | ((value << shift) & mask);
    }

    // The checks every per-queue set-up write shares (§3.1.1, §4.1.4.3.2).
    private bool TryGetQueueForSetUp(string field, out int queue)
    {
        queue = _queueSelect;
        if (queue >= _queues.Length)
        {
            BadDriver($"{field} written for queue {queue}, which does not exist ({_queues.Length} queues)");
            return false;
        }
        if ((_status & VirtioDeviceStatus.FeaturesOk) == 0)
        {
            BadDriver($"setting up vq before FEATURES_OK (queue {queue})");
            return false;
        }
        if (_featuresOkUnread)
        {
            BadDriver($"didn't re-read FEATURES_OK before setup (queue {queue})");
            return false;
        }
        if (_queues[queue].Enabled)
        {
            BadDriver(field == "queue_size" ? $"changing queue size on live device (queue {queue})" : $"changing queue on live device ({field} of queue {queue})");
            return false;
        }
        return true;
    }

    private static string FieldName(int offset)
    {
        foreach ((int start, int width, string name) in CommonFields)
        {
            if (offset >= start && offset < start + width)
                return name;
        }
        return "no register";
    }

    // The seed's words: "non-16-bit write to offset 22", "read from padding", "Unexpected write to offset 60".
    private static string DescribeMiss(string access, int offset, int width)
    {
        foreach ((int start, int fieldWidth, string name) in CommonFields)
        {
            if (offset >= start && offset < start + fieldWidth)
            {
                string natural = fieldWidth == 8 ? "32" : (8 * fieldWidth).ToString(System.Globalization.CultureInfo.InvariantCulture);
                return $"non-{natural}-bit {access} {(access == "read" ? "from" : "to")} offset {offset} ({width}-byte {access} of {name})";
            }
        }
        return access == "read"
            ? $"read from padding ({width} byte(s) at offset {offset})"
            : $"Unexpected write to offset {offset} ({width} byte(s); no register there)";
    }

    private static void Store(Span<byte> data, ulong value)
    {
        switch (data.Length)
        {
            case 1: data[0] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(data, (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)value); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(data, value); break;
        }
    }

    private static ulong Load(ReadOnlySpan<byte> data) => data.Length switch
    {
        1 => data[0],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(data),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(data),
        8 => BinaryPrimitives.ReadUInt64LittleEndian(data),
        _ => 0,
    };
}
