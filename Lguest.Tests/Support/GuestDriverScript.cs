using System.Buffers.Binary;
using Lguest.Pci;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Support;

/// <summary>
/// What a test guest's driver does, as a list of accesses either backend's test guest performs: the lguest Host
/// simulator turns each into a trap with real instruction bytes (<see cref="LguestScriptGuest"/>), a KVM guest
/// program into the same instructions run for real (<see cref="KvmProgramGuest"/>). Loads are recorded in order;
/// each load method returns its index in the results.
/// </summary>
internal sealed class GuestDriverScript
{
    private const ushort ConfigAddress = 0xcf8, ConfigData = 0xcfc;

    public abstract record Step;

    public sealed record PortWrite(ushort Port, int Width, uint Value) : Step;

    public sealed record PortRead(ushort Port, int Width) : Step;

    public sealed record MmioWrite(uint Address, int Width, uint Value) : Step;

    public sealed record MmioRead(uint Address, int Width) : Step;

    /// <summary>Reads until a bit of <paramref name="Mask"/> is set; records the last value.</summary>
    public sealed record MmioPoll(uint Address, int Width, uint Mask) : Step;

    /// <summary>Stores to guest RAM (no trap on either backend).</summary>
    public sealed record MemoryWrite(uint Address, byte[] Bytes) : Step;

    private readonly List<Step> _steps = [];

    public IReadOnlyList<Step> Steps => _steps;

    /// <summary>How many loads the script records.</summary>
    public int LoadCount { get; private set; }

    public GuestDriverScript Out(ushort port, int width, uint value)
    {
        _steps.Add(new PortWrite(port, width, value));
        return this;
    }

    public int In(ushort port, int width)
    {
        _steps.Add(new PortRead(port, width));
        return LoadCount++;
    }

    public GuestDriverScript Store(uint address, int width, uint value)
    {
        _steps.Add(new MmioWrite(address, width, value));
        return this;
    }

    public int Load(uint address, int width)
    {
        _steps.Add(new MmioRead(address, width));
        return LoadCount++;
    }

    public int Poll(uint address, int width, uint mask)
    {
        _steps.Add(new MmioPoll(address, width, mask));
        return LoadCount++;
    }

    public GuestDriverScript Poke(uint address, byte[] bytes)
    {
        _steps.Add(new MemoryWrite(address, bytes));
        return this;
    }

    public GuestDriverScript Poke16(uint address, ushort value)
    {
        byte[] b = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        return Poke(address, b);
    }

    /// <summary>pci_conf1_read: CONFIG_ADDRESS, then the data port at the register's byte lane.</summary>
    public int ConfigRead(int slot, int register, int width)
    {
        Out(ConfigAddress, 4, PciConfigCycles.Address(0, slot, 0, register));
        return In((ushort)(ConfigData + (register & 3)), width);
    }

    public GuestDriverScript ConfigWrite(int slot, int register, int width, uint value)
    {
        Out(ConfigAddress, 4, PciConfigCycles.Address(0, slot, 0, register));
        return Out((ushort)(ConfigData + (register & 3)), width, value);
    }

    /// <summary>A split ring's descriptor: {addr, len, flags, next}, 16 bytes.</summary>
    public GuestDriverScript Descriptor(uint table, int index, ulong address, uint length, ushort flags, ushort next = 0)
    {
        byte[] d = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(8), length);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(12), flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(14), next);
        return Poke(table + (uint)(16 * index), d);
    }

    /// <summary>Makes <paramref name="head"/> available in slot <paramref name="slot"/> and moves avail.idx to <paramref name="index"/>.</summary>
    public GuestDriverScript Publish(uint availRing, int slot, ushort head, ushort index) =>
        Poke16(availRing + 4 + (uint)(2 * slot), head).Poke16(availRing + 2, index);
}

/// <summary>A virtio 1.x driver's register conversation with the function in one slot (virtio 1.2 §3.1.1, §4.1).</summary>
/// <param name="Script">Where the accesses go.</param>
/// <param name="Bar">BAR 0's address, where the bus placed it.</param>
internal sealed record VirtioDriver(GuestDriverScript Script, uint Bar)
{
    public const byte Acknowledge = (byte)VirtioDeviceStatus.Acknowledge;
    public const byte Driver = Acknowledge | (byte)VirtioDeviceStatus.Driver;
    public const byte FeaturesOk = Driver | (byte)VirtioDeviceStatus.FeaturesOk;
    public const byte DriverOk = FeaturesOk | (byte)VirtioDeviceStatus.DriverOk;
    public const uint NeedsReset = (uint)VirtioDeviceStatus.DeviceNeedsReset;

    public VirtioDriver Status(byte value) => Common(DeviceStatus, 1, value);

    public int ReadStatus() => Script.Load(Bar + DeviceStatus, 1);

    public int WaitForNeedsReset() => Script.Poll(Bar + DeviceStatus, 1, NeedsReset);

    public VirtioDriver Common(int offset, int width, uint value)
    {
        Script.Store(Bar + (uint)offset, width, value);
        return this;
    }

    /// <summary>Reset, ACKNOWLEDGE, DRIVER, features (VERSION_1 plus <paramref name="low"/>), FEATURES_OK and its read-back.</summary>
    public VirtioDriver Negotiate(uint low = 0)
    {
        Status(0).Status(Acknowledge).Status(Driver);
        Common(DeviceFeatureSelect, 4, 1);
        Script.Load(Bar + DeviceFeature, 4);
        Common(DriverFeatureSelect, 4, 0).Common(DriverFeature, 4, low);
        Common(DriverFeatureSelect, 4, 1).Common(DriverFeature, 4, (uint)(VirtioFeatures.Version1 >> 32));
        Status(FeaturesOk);
        ReadStatus();
        return this;
    }

    /// <summary>Selects <paramref name="queue"/>, sizes it and places its three parts.</summary>
    public VirtioDriver PlaceQueue(int queue, ushort size, uint descriptors, uint driverArea, uint deviceArea)
    {
        Common(QueueSelect, 2, (uint)queue).Common(QueueSize, 2, size);
        Common(QueueDesc, 4, descriptors).Common(QueueDesc + 4, 4, 0);
        Common(QueueDriver, 4, driverArea).Common(QueueDriver + 4, 4, 0);
        Common(QueueDevice, 4, deviceArea).Common(QueueDevice + 4, 4, 0);
        return this;
    }

    public VirtioDriver EnableQueue(int queue)
    {
        Common(QueueSelect, 2, (uint)queue);
        return Common(QueueEnable, 2, 1);
    }

    /// <summary>The whole bring-up of one queue: negotiate, place, enable, DRIVER_OK.</summary>
    public VirtioDriver BringUp(ushort size, uint descriptors, uint driverArea, uint deviceArea, uint features = 0, int queue = 0)
    {
        Negotiate(features);
        PlaceQueue(queue, size, descriptors, driverArea, deviceArea);
        EnableQueue(queue);
        return Status(DriverOk);
    }

    /// <summary>vp_notify: the queue index, 16 bits, at its notification slot.</summary>
    public VirtioDriver Notify(int queue)
    {
        Script.Store(Bar + (uint)(VirtioPciTransport.NotifyOffset + queue * VirtioPciTransport.NotifyOffMultiplier), 2, (uint)queue);
        return this;
    }
}
