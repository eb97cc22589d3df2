using System.Buffers.Binary;

namespace Lguest.Virtio;

// The device-specific configuration (virtio 1.2 §4.1.4.6), and the VIRTIO_PCI_CAP_PCI_CFG window
// (§4.1.4.9) through which a driver without a BAR mapping (firmware) reaches the same registers.
public sealed partial class VirtioPciTransport
{
    // Under _lock like every other call into the device, so a device sees one call at a time even when
    // several vCPUs reach its registers at once.
    private void ReadDeviceConfig(int offset, Span<byte> data)
    {
        lock (_lock)
        {
            if (data.Length > _deviceConfigSize - offset)
            {
                BadDriver($"read past end ({data.Length} byte(s) at device configuration offset {offset}, of {_deviceConfigSize})");
                return;
            }
            _device.ReadConfig(offset, data);
        }
    }

    private void WriteDeviceConfig(int offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (_broken)
                return;
            if (data.Length > _deviceConfigSize - offset)
            {
                BadDriver($"write past end ({data.Length} byte(s) at device configuration offset {offset}, of {_deviceConfigSize})");
                return;
            }
            _device.WriteConfig(offset, data);
        }
    }

    // The driver read pci_cfg_data: read cap.length bytes at cap.offset of BAR cap.bar into it first.
    private void ReadThroughWindow()
    {
        if (!TryGetWindow("read", out uint offset, out int length))
            return;
        Span<byte> value = stackalloc byte[4];
        value.Clear();
        ReadBar(offset, value[..length]);
        Configuration.SetUInt32(PciConfigCapability + CapabilityExtra, BinaryPrimitives.ReadUInt32LittleEndian(value));
    }

    // The driver wrote pci_cfg_data: write its first cap.length bytes at cap.offset of BAR cap.bar.
    private void WriteThroughWindow()
    {
        if (!TryGetWindow("write", out uint offset, out int length))
            return;
        Span<byte> value = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(value, Configuration.ReadUInt32(PciConfigCapability + CapabilityExtra));
        WriteBar(offset, value[..length]);
    }

    private bool TryGetWindow(string access, out uint offset, out int length)
    {
        byte bar = Configuration.ReadByte(PciConfigCapability + CapabilityBar);
        offset = Configuration.ReadUInt32(PciConfigCapability + CapabilityOffset);
        uint size = Configuration.ReadUInt32(PciConfigCapability + CapabilityLength);
        length = (int)Math.Min(size, 4);
        // §4.1.4.9.2: length 1, 2 or 4, offset a multiple of it; and the access must fall inside our BAR.
        if (bar == _bar.Index && size is 1 or 2 or 4 && offset % size == 0 && offset <= _barSize - size)
            return true;
        ReportRegisterMisuse($"Invalid cfg_access to bar{bar}, offset {offset} len {size} (a window {access})");
        return false;
    }
}
