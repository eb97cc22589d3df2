using System.Buffers.Binary;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Support;

/// <summary>
/// A guest with one virtio PCI device on bus 0, and the register accesses its driver makes: MMIO through
/// the bus at the BAR's address, configuration cycles through the host bridge. The driver steps follow
/// virtio 1.2 §3.1.1 as Linux's virtio_pci_modern performs them.
/// </summary>
internal sealed class VirtioTestBed : IDisposable
{
    // Ring placement for queue n: 16 KiB apart from 64 KiB up, inside the 1 MiB of RAM.
    public const ulong RingBase = 0x10000;
    public const ulong RingStride = 0x4000;

    public VirtioTestBed(IVirtioDevice device, VirtioPciTransportOptions? options = null, bool acceptsNotifyEvents = true,
        ILogger<VirtioPciTransport>? logger = null, FakeVirtualMachine? machine = null, PciBus? bus = null, IoBus? mmio = null, int msiRoutes = 0)
    {
        _ownsMachine = machine is null;
        Machine = machine ?? new FakeVirtualMachine(GuestMemoryLayout.Flat(1 << 20), acceptsNotifyEvents, msiRoutes);
        Mmio = mmio ?? new IoBus("mmio");
        Bus = bus ?? new PciBus(Machine, Mmio);
        Transport = new VirtioPciTransport(device, Machine, options, logger);
        Slot = Bus.Add(Transport);
    }

    private readonly bool _ownsMachine;

    public FakeVirtualMachine Machine { get; }

    public IoBus Mmio { get; }

    public PciBus Bus { get; }

    public VirtioPciTransport Transport { get; }

    public int Slot { get; }

    public ulong BarAddress => Transport.Bar.MappedAddress!.Value.Value;

    public RecordingInterruptLine Line => Machine.Line(Bus.InterruptRoutes.Single(r => r.Device == Slot).Gsi);

    public static ulong Descriptors(int queue) => RingBase + (ulong)queue * RingStride;

    public static ulong DriverArea(int queue) => Descriptors(queue) + 0x2000;

    public static ulong DeviceArea(int queue) => Descriptors(queue) + 0x3000;

    public ulong Read(int offset, int width)
    {
        Span<byte> data = stackalloc byte[8];
        Mmio.Read(BarAddress + (ulong)offset, data[..width]);
        return BinaryPrimitives.ReadUInt64LittleEndian(data);
    }

    public void Write(int offset, int width, ulong value)
    {
        Span<byte> data = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(data, value);
        Mmio.Write(BarAddress + (ulong)offset, data[..width]);
    }

    public uint Config(int register, int width) => PciConfigCycles.Read(Bus.HostBridge, Slot, register, width);

    public void SetConfig(int register, int width, uint value) => PciConfigCycles.Write(Bus.HostBridge, Slot, register, width, value);

    public VirtioDeviceStatus Status => (VirtioDeviceStatus)Read(DeviceStatus, 1);

    public void SetStatus(VirtioDeviceStatus status) => Write(DeviceStatus, 1, (byte)status);

    public void AddStatus(VirtioDeviceStatus bits) => SetStatus(Status | bits);

    public ulong DeviceFeatures()
    {
        Write(DeviceFeatureSelect, 4, 0);
        ulong low = Read(DeviceFeature, 4) & 0xffff_ffff;
        Write(DeviceFeatureSelect, 4, 1);
        return low | (Read(DeviceFeature, 4) & 0xffff_ffff) << 32;
    }

    public void WriteDriverFeatures(ulong features)
    {
        Write(DriverFeatureSelect, 4, 0);
        Write(DriverFeature, 4, (uint)features);
        Write(DriverFeatureSelect, 4, 1);
        Write(DriverFeature, 4, (uint)(features >> 32));
    }

    /// <summary>Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK and its read-back. Returns whether FEATURES_OK stuck.</summary>
    public bool Negotiate(ulong? features = null)
    {
        SetStatus(VirtioDeviceStatus.None);
        AddStatus(VirtioDeviceStatus.Acknowledge);
        AddStatus(VirtioDeviceStatus.Driver);
        WriteDriverFeatures(features ?? DeviceFeatures());
        AddStatus(VirtioDeviceStatus.FeaturesOk);
        return (Status & VirtioDeviceStatus.FeaturesOk) != 0;
    }

    /// <summary>Sets queue <paramref name="queue"/> up at its default ring addresses, as vp_active_vq does, and enables it.</summary>
    public void SetUpQueue(int queue, ushort? size = null, ulong? descriptors = null, ulong? driver = null, ulong? device = null, bool enable = true)
    {
        Write(QueueSelect, 2, (ushort)queue);
        Write(QueueSize, 2, size ?? (ushort)Read(QueueSize, 2));
        WriteTwoPart(QueueDesc, descriptors ?? Descriptors(queue));
        WriteTwoPart(QueueDriver, driver ?? DriverArea(queue));
        WriteTwoPart(QueueDevice, device ?? DeviceArea(queue));
        if (enable)
            Write(QueueEnable, 2, 1);
    }

    /// <summary>The whole driver bring-up: negotiation, every queue set up and enabled, DRIVER_OK.</summary>
    public void BringUp(ulong? features = null)
    {
        if (!Negotiate(features))
            throw new InvalidOperationException("FEATURES_OK refused");
        int queues = (int)Read(NumQueues, 2);
        for (int q = 0; q < queues; q++)
            SetUpQueue(q);
        AddStatus(VirtioDeviceStatus.DriverOk);
    }

    public byte ReadIsr() => (byte)Read(VirtioPciTransport.IsrOffset, 1);

    public void Notify(int queue) => Write(VirtioPciTransport.NotifyOffset + queue * VirtioPciTransport.NotifyOffMultiplier, 2, (ushort)queue);

    public void Dispose()
    {
        Transport.Dispose();
        if (_ownsMachine)
            Machine.Dispose();
    }

    private void WriteTwoPart(int offset, ulong value)
    {
        Write(offset, 4, (uint)value);
        Write(offset + 4, 4, (uint)(value >> 32));
    }
}
