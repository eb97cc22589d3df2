using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Virtio;

/// <summary>
/// A virtio 1.x ("modern", non-transitional) PCI device (virtio 1.2 §4.1) in front of an
/// <see cref="IVirtioDevice"/>: vendor 0x1af4, device 0x1040 + type, revision 1, one 64-bit memory
/// BAR holding the four register structures, each announced by a vendor capability, plus the
/// VIRTIO_PCI_CAP_PCI_CFG window; MSI-X when the backend can deliver messages
/// (<see cref="IVirtualMachine.TryCreateMsiRoute"/>), else legacy INTx# interrupts with the ISR register.
/// </summary>
/// <remarks>
/// <para>BAR 0 (16 KiB, or 32 KiB with MSI-X; 64-bit, not prefetchable: reading the ISR clears it):</para>
/// <list type="table">
/// <item><term>0x0000</term><description>struct virtio_pci_common_cfg, 0x38 bytes (<see cref="VirtioPciCommonConfig"/>)</description></item>
/// <item><term>0x1000</term><description>ISR status, 1 byte: bit 0 queue, bit 1 configuration; reading clears it and lowers INTx#</description></item>
/// <item><term>0x2000</term><description>device-specific configuration, <see cref="IVirtioDevice.ConfigSize"/> bytes</description></item>
/// <item><term>0x3000</term><description>notifications: queue n at 0x3000 + 4n (queue_notify_off n, notify_off_multiplier 4), a 16-bit write</description></item>
/// <item><term>0x4000</term><description>with MSI-X: the vector table, one vector per queue plus one for configuration changes (at most <see cref="MaxMsixVectors"/>)</description></item>
/// <item><term>0x5000</term><description>with MSI-X: the pending bit array</description></item>
/// </list>
/// <para>Capabilities from 0x40: common 0x40, notify 0x50, ISR 0x64, PCI configuration access 0x74, device
/// 0x88 (absent when the device has no configuration: Linux refuses a zero-length one), then MSI-X
/// (ID 0x11) when offered.</para>
/// <para>A driver breaking the rules puts the device in DEVICE_NEEDS_RESET (logged once, with a configuration
/// change interrupt when it was live) and its writes are ignored until it writes 0 to device_status;
/// see <see cref="VirtioPciTransportOptions.Strict"/>. The register paths allocate nothing except on
/// that error path.</para>
/// </remarks>
public sealed partial class VirtioPciTransport : PciDevice, IDisposable
{
    /// <summary>PCI vendor ID of virtio devices (Red Hat, Inc.).</summary>
    public const ushort VirtioVendorId = 0x1af4;

    /// <summary>Modern (non-transitional) virtio device IDs are this plus the virtio device type.</summary>
    public const ushort ModernDeviceIdBase = 0x1040;

    /// <summary>Offset of the common configuration in BAR 0.</summary>
    public const int CommonConfigOffset = 0x0000;

    /// <summary>Offset of the ISR status byte in BAR 0.</summary>
    public const int IsrOffset = 0x1000;

    /// <summary>Offset of the device-specific configuration in BAR 0.</summary>
    public const int DeviceConfigOffset = 0x2000;

    /// <summary>Offset of the notification area in BAR 0.</summary>
    public const int NotifyOffset = 0x3000;

    /// <summary>notify_off_multiplier: each queue has its own 4-byte slot, so each can have its own ioeventfd.</summary>
    public const int NotifyOffMultiplier = 4;

    /// <summary>The width of a notification write without VIRTIO_F_NOTIFICATION_DATA: the 16-bit queue index.</summary>
    public const int NotifyWidth = 2;

    /// <summary>The most queues a device may have: one notification page of 4-byte slots.</summary>
    public const int MaxQueues = 1024;

    /// <summary>The largest split virtqueue (virtio 1.2 §2.7: Queue Size ≤ 32768).</summary>
    public const ushort MaxQueueSize = 32768;

    /// <summary>The largest device configuration: its 4 KiB slot of the BAR.</summary>
    public const int MaxDeviceConfigSize = 0x1000;

    /// <summary>The BAR's size without MSI-X (the /dev/lguest backend's devices).</summary>
    public const ulong BarSize = 0x4000;

    /// <summary>Offset of the MSI-X table in BAR 0, when the transport offers MSI-X.</summary>
    public const int MsixTableOffset = 0x4000;

    /// <summary>Offset of the MSI-X pending bit array in BAR 0.</summary>
    public const int MsixPbaOffset = 0x5000;

    /// <summary>The BAR's size with MSI-X: the table and PBA pages, rounded to a power of two.</summary>
    public const ulong MsixBarSize = 0x8000;

    /// <summary>
    /// The most MSI-X vectors: one 4 KiB page of 16-byte entries. A device with more queues gets this many;
    /// Linux then shares one vector among the queues (virtio's fallback), as the spec allows (§4.1.4.3).
    /// </summary>
    public const int MaxMsixVectors = 0x1000 / MsixCapability.EntrySize;

    /// <summary>Offset of the common configuration capability in configuration space.</summary>
    public const int CommonCapability = 0x40;

    /// <summary>Offset of the notification capability.</summary>
    public const int NotifyCapability = 0x50;

    /// <summary>Offset of the ISR capability.</summary>
    public const int IsrCapability = 0x64;

    /// <summary>Offset of the PCI configuration access capability.</summary>
    public const int PciConfigCapability = 0x74;

    /// <summary>Offset of the device configuration capability (present only when the device has configuration).</summary>
    public const int DeviceCapability = 0x88;

    // struct virtio_pci_cap (virtio 1.2 §4.1.4): cap_vndr, cap_next, cap_len, cfg_type, bar, id, padding[2], offset, length.
    private const int CapabilitySize = 16;
    private const int CapabilityBar = 4;
    private const int CapabilityOffset = 8;
    private const int CapabilityLength = 12;
    private const int CapabilityExtra = 16; // notify_off_multiplier, or pci_cfg_data

    private readonly IVirtioDevice _device;
    private readonly IVirtualMachine _machine;
    private readonly VirtioPciTransportOptions _options;
    private readonly ILogger _logger;
    private readonly ushort[] _maxSizes;
    private readonly QueueState[] _queues;
    private readonly EventNotifier[] _notifiers;
    private readonly IDisposable?[] _notifyEvents;
    private readonly ulong _offeredFeatures;
    private readonly int _deviceConfigSize;
    private readonly PciBar _bar;
    private readonly ulong _barSize;
    private readonly MsixCapability? _msix;
    private readonly ushort[] _queueVectors;
    private ushort _configVector = VirtioPciCommonConfig.NoVector;
    private readonly int _capabilitiesEnd;
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <summary>Puts <paramref name="device"/> behind a virtio PCI function; add it to a <see cref="PciBus"/> next.</summary>
    /// <param name="device">The device.</param>
    /// <param name="machine">The guest: its memory bounds the queues, its backend may take the notifications (ioeventfd).</param>
    /// <param name="options">Bad-driver policy; null for the default (the device alone suffers).</param>
    /// <param name="logger">Where bad drivers and negotiation are logged.</param>
    /// <exception cref="ArgumentException">The device describes itself impossibly (too many queues, a queue size not a power of two, too much configuration).</exception>
    public VirtioPciTransport(IVirtioDevice device, IVirtualMachine machine, VirtioPciTransportOptions? options = null, ILogger<VirtioPciTransport>? logger = null)
        : base(NameOf(device), IdentityOf(device))
    {
        ArgumentNullException.ThrowIfNull(machine);
        _device = device;
        _machine = machine;
        _options = options ?? new VirtioPciTransportOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;

        _maxSizes = [.. device.QueueMaxSizes];
        if (_maxSizes.Length > MaxQueues)
            throw new ArgumentException($"{Name}: {_maxSizes.Length} queues, at most {MaxQueues}", nameof(device));
        foreach (ushort size in _maxSizes)
        {
            if (size == 0 || size > MaxQueueSize || !ushort.IsPow2(size))
                throw new ArgumentException($"{Name}: queue size {size} is not a power of two up to {MaxQueueSize}", nameof(device));
        }
        _deviceConfigSize = device.ConfigSize;
        if (_deviceConfigSize is < 0 or > MaxDeviceConfigSize)
            throw new ArgumentException($"{Name}: {_deviceConfigSize} bytes of configuration, at most {MaxDeviceConfigSize}", nameof(device));
        _offeredFeatures = (device.DeviceFeatures | VirtioFeatures.Version1) & ~VirtioFeatures.UnsupportedByPciTransport;

        _queues = new QueueState[_maxSizes.Length];
        _notifyEvents = new IDisposable?[_maxSizes.Length];
        _notifiers = new EventNotifier[_maxSizes.Length];
        for (int i = 0; i < _notifiers.Length; i++)
            _notifiers[i] = new EventNotifier();
        _queueVectors = new ushort[_maxSizes.Length];
        ResetQueues();

        IMsiRoute[]? routes = CreateMsiRoutes(machine, Math.Min(_maxSizes.Length + 1, MaxMsixVectors));
        _barSize = routes is null ? BarSize : MsixBarSize;
        _bar = AddMemoryBar(0, _barSize, PciBarKind.Memory64, prefetchable: false, new BarRegion(this));
        UseInterruptPin();
        AddCapabilities();
        _capabilitiesEnd = _deviceConfigSize > 0 ? DeviceCapability + CapabilitySize : PciConfigCapability + CapabilitySize + 4;
        if (routes is not null)
            _msix = new MsixCapability(Configuration, _bar.Index, MsixTableOffset, MsixPbaOffset, routes);
    }

    /// <summary>The device behind the transport.</summary>
    public IVirtioDevice Device => _device;

    /// <summary>The device status as the driver reads it.</summary>
    public VirtioDeviceStatus Status
    {
        get
        {
            lock (_lock)
                return CurrentStatus;
        }
    }

    /// <summary>The notifier of each queue, signalled by the driver's notifications.</summary>
    public IReadOnlyList<EventNotifier> QueueNotifiers => _notifiers;

    /// <summary>The BAR holding the registers.</summary>
    public PciBar Bar => _bar;

    /// <summary>The MSI-X capability, or null when the backend cannot deliver messages (INTx# only).</summary>
    public MsixCapability? Msix => _msix;

    /// <summary>Stops the device and releases the notifiers. Call after the vCPUs have stopped.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            RevokeActivationLocked();
            _device.Reset();
            foreach (EventNotifier notifier in _notifiers)
                notifier.Dispose();
            _msix?.Dispose();
        }
    }

    /// <inheritdoc />
    public override void ReadConfiguration(int offset, Span<byte> data)
    {
        int window = PciConfigCapability + CapabilityExtra;
        if (offset < window + 4 && offset + data.Length > window)
            ReadThroughWindow();
        base.ReadConfiguration(offset, data);
    }

    /// <inheritdoc />
    public override void WriteConfiguration(int offset, ReadOnlySpan<byte> data)
    {
        int end = offset + data.Length;
        if (offset < _capabilitiesEnd && end > CommonCapability && !InsideWritableWindowFields(offset, end))
        {
            // virtio 1.2 §4.1.4: the driver MUST NOT write into any field of the capability structures,
            // except those of VIRTIO_PCI_CAP_PCI_CFG.
            lock (_lock)
                BadDriver($"configuration write of {data.Length} byte(s) at 0x{offset:x2}, inside a virtio capability");
            return;
        }
        base.WriteConfiguration(offset, data);
        int window = PciConfigCapability + CapabilityExtra;
        if (offset < window + 4 && end > window)
            WriteThroughWindow();
        if (_msix is not null && _msix.Touches(offset, data.Length) && _msix.OnConfigurationWritten())
            OnMsixEnableChanged();
    }

    /// <inheritdoc />
    protected override void OnBarMapped(PciBar bar, GuestAddress? previous)
    {
        lock (_lock)
        {
            if (!_disposed)
                RegisterNotifyEventsLocked();
        }
    }

    private static bool InsideWritableWindowFields(int offset, int end) =>
        offset >= PciConfigCapability + CapabilityBar && end <= PciConfigCapability + CapabilityBar + 1
        || offset >= PciConfigCapability + CapabilityOffset && end <= PciConfigCapability + CapabilityExtra + 4;

    private void AddCapabilities()
    {
        PciConfigurationSpace c = Configuration;
        AddVirtioCapability(CommonCapability, VirtioPciCapabilityType.CommonConfiguration, CommonConfigOffset, VirtioPciCommonConfig.Size, CapabilitySize);
        AddVirtioCapability(NotifyCapability, VirtioPciCapabilityType.NotifyConfiguration, NotifyOffset, (uint)Math.Max(1, _maxSizes.Length) * NotifyOffMultiplier, CapabilitySize + 4);
        c.SetUInt32(NotifyCapability + CapabilityExtra, NotifyOffMultiplier);
        AddVirtioCapability(IsrCapability, VirtioPciCapabilityType.IsrConfiguration, IsrOffset, 1, CapabilitySize);
        AddVirtioCapability(PciConfigCapability, VirtioPciCapabilityType.PciConfiguration, 0, 0, CapabilitySize + 4);
        if (_deviceConfigSize > 0)
            AddVirtioCapability(DeviceCapability, VirtioPciCapabilityType.DeviceConfiguration, DeviceConfigOffset, (uint)_deviceConfigSize, CapabilitySize);
        // The window's bar, offset, length and data fields are the driver's to write (virtio 1.2 §4.1.4.9).
        c.SetWriteMask(PciConfigCapability + CapabilityBar, 1, 0xff);
        c.SetWriteMask(PciConfigCapability + CapabilityOffset, 4, uint.MaxValue);
        c.SetWriteMask(PciConfigCapability + CapabilityLength, 4, uint.MaxValue);
        c.SetWriteMask(PciConfigCapability + CapabilityExtra, 4, uint.MaxValue);
    }

    private void AddVirtioCapability(int expectedOffset, VirtioPciCapabilityType type, uint offset, uint length, int size)
    {
        int at = Configuration.AddCapability(PciHeader.CapabilityIdVendor, size);
        if (at != expectedOffset)
            throw new InvalidOperationException($"capability {type} landed at 0x{at:x2}, not 0x{expectedOffset:x2}");
        Configuration.SetByte(at + 2, (byte)size);
        Configuration.SetByte(at + 3, (byte)type);
        Configuration.SetByte(at + CapabilityBar, (byte)_bar.Index);
        Configuration.SetUInt32(at + CapabilityOffset, offset);
        Configuration.SetUInt32(at + CapabilityLength, length);
    }

    // One route per vector, or null (no MSI-X) when the backend has none or runs out part way.
    private static IMsiRoute[]? CreateMsiRoutes(IVirtualMachine machine, int count)
    {
        var routes = new IMsiRoute[count];
        for (int i = 0; i < count; i++)
        {
            if (!machine.TryCreateMsiRoute(out IMsiRoute? route) || route is null)
            {
                for (int j = 0; j < i; j++)
                    routes[j].Dispose();
                return null;
            }
            routes[i] = route;
        }
        return routes;
    }

    private static string NameOf(IVirtioDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.Name;
    }

    private static PciDeviceIdentity IdentityOf(IVirtioDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        ushort type = (ushort)device.DeviceType;
        if (type is 0 or > 0x3f)
            throw new ArgumentException($"{device.Name}: virtio device type {type} has no modern PCI device ID", nameof(device));
        // virtio 1.2 §4.1.2.1: non-transitional devices use 0x1040 + type, revision 1 or higher, and a
        // subsystem ID of 0x40 or higher. Class codes follow QEMU's, which drivers do not depend on.
        uint classCode = device.DeviceType switch
        {
            VirtioDeviceType.Net => 0x02_00_00,         // network, Ethernet
            VirtioDeviceType.Block => 0x01_00_00,       // mass storage, SCSI
            VirtioDeviceType.Scsi => 0x01_00_00,
            VirtioDeviceType.Console => 0x07_80_00,     // communication, other
            VirtioDeviceType.Gpu => 0x03_80_00,         // display, other
            VirtioDeviceType.Input => 0x09_80_00,       // input, other
            VirtioDeviceType.FileSystem => 0x01_80_00,  // mass storage, other
            _ => 0x00_ff_00,                            // unclassified (QEMU's PCI_CLASS_OTHERS for rng, balloon)
        };
        return new PciDeviceIdentity(VirtioVendorId, (ushort)(ModernDeviceIdBase + type), classCode, RevisionId: 1,
            SubsystemVendorId: VirtioVendorId, SubsystemId: (ushort)(0x40 + type));
    }

    // The driver-visible state of one queue (virtio 1.2 §4.1.4.3), under _lock.
    private struct QueueState
    {
        public ushort Size;
        public bool Enabled;
        public ulong Descriptors;
        public ulong Driver;
        public ulong Device;
    }

    // BAR 0 as the MMIO bus sees it. A separate object so the transport's public surface is not an IIoDevice.
    private sealed class BarRegion(VirtioPciTransport transport) : IIoDevice
    {
        public void Read(ulong offset, Span<byte> data) => transport.ReadBar(offset, data);

        public void Write(ulong offset, ReadOnlySpan<byte> data) => transport.WriteBar(offset, data);
    }
}
