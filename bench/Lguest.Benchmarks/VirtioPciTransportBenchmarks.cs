using BenchmarkDotNet.Attributes;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Virtio;

namespace Lguest.Benchmarks;

/// <summary>
/// The register paths a vCPU exit takes into the virtio PCI transport, dispatched through the MMIO and
/// port buses as the run loop does: a notification without ioeventfd, the driver's ISR read after the
/// device's interrupt, a common-configuration read, and a configuration cycle through 0xcf8/0xcfc.
/// The interrupt line is a no-op here, so the figures are the VMM's own cost, without the ioctl.
/// </summary>
[MemoryDiagnoser]
public class VirtioPciTransportBenchmarks
{
    private readonly byte[] _one = new byte[1];
    private readonly byte[] _two = new byte[2];
    private readonly byte[] _four = new byte[4];
    private GuestMemory _memory = null!;
    private IoBus _mmio = null!;
    private IoBus _ports = null!;
    private VirtioPciTransport _transport = null!;
    private BenchDevice _device = null!;
    private ulong _bar;

    [GlobalSetup]
    public void Setup()
    {
        _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        var machine = new BenchMachine(_memory);
        _mmio = new IoBus("mmio");
        _ports = new IoBus("pio");
        var bus = new PciBus(machine, _mmio);
        _ports.Register(PciHostBridge.PortBase, PciHostBridge.PortCount, bus.HostBridge);
        _device = new BenchDevice();
        _transport = new VirtioPciTransport(_device, machine);
        bus.Add(_transport);
        _bar = _transport.Bar.MappedAddress!.Value.Value;

        // A driver's bring-up, so the device is live.
        Write(VirtioPciCommonConfig.DeviceStatus, [1]);
        Write(VirtioPciCommonConfig.DeviceStatus, [3]);
        Write(VirtioPciCommonConfig.DriverFeatureSelect, [1, 0, 0, 0]);
        Write(VirtioPciCommonConfig.DriverFeature, [1, 0, 0, 0]);
        Write(VirtioPciCommonConfig.DeviceStatus, [11]);
        _mmio.Read(_bar + VirtioPciCommonConfig.DeviceStatus, _one);
        Write(VirtioPciCommonConfig.QueueDesc, [0, 0, 1, 0]);
        Write(VirtioPciCommonConfig.QueueDriver, [0, 0x20, 1, 0]);
        Write(VirtioPciCommonConfig.QueueDevice, [0, 0x30, 1, 0]);
        Write(VirtioPciCommonConfig.QueueEnable, [1, 0]);
        Write(VirtioPciCommonConfig.DeviceStatus, [15]);
        if (_device.Transport is null)
            throw new InvalidOperationException("the device did not come up");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _transport.Dispose();
        _memory.Dispose();
    }

    [Benchmark(Description = "notify through the MMIO bus (eventfd write) + worker consume")]
    public bool Notify()
    {
        _mmio.Write(_bar + VirtioPciTransport.NotifyOffset, _two);
        return _transport.QueueNotifiers[0].TryConsume();
    }

    [Benchmark(Description = "device interrupt + driver ISR read (clears, lowers INTx)")]
    public byte InterruptAndIsrRead()
    {
        _device.Transport!.SignalUsedBuffers(0);
        _mmio.Read(_bar + VirtioPciTransport.IsrOffset, _one);
        return _one[0];
    }

    [Benchmark(Description = "common configuration read (queue_size)")]
    public byte CommonConfigRead()
    {
        _mmio.Read(_bar + VirtioPciCommonConfig.QueueSize, _two);
        return _two[0];
    }

    [Benchmark(Description = "configuration cycle: outl 0xcf8, inl 0xcfc")]
    public byte ConfigCycle()
    {
        _four[0] = 0; _four[1] = 0x08; _four[2] = 0; _four[3] = 0x80; // bus 0, device 1, register 0
        _ports.Write(PciHostBridge.PortBase, _four);
        _ports.Read(PciHostBridge.PortBase + 4u, _four);
        return _four[0];
    }

    private void Write(int offset, byte[] data) => _mmio.Write(_bar + (ulong)offset, data);

    private sealed class BenchDevice : IVirtioDevice
    {
        public IVirtioTransport? Transport { get; private set; }

        public string Name => "bench";

        public VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;

        public ulong DeviceFeatures => 0;

        public IReadOnlyList<ushort> QueueMaxSizes { get; } = [256];

        public int ConfigSize => 0;

        public byte ConfigGeneration => 0;

        public void ReadConfig(int offset, Span<byte> data) => data.Clear();

        public void WriteConfig(int offset, ReadOnlySpan<byte> data)
        {
        }

        public void Activate(VirtioActivation activation) => Transport = activation.Transport;

        public void Reset() => Transport = null;

        // No worker: the benchmark plays the device on its own thread.
        public void Pause()
        {
        }

        public void Resume()
        {
        }
    }

    private sealed class BenchMachine(GuestMemory memory) : IVirtualMachine
    {
        public GuestMemory Memory => memory;

        public IVcpu CreateVcpu(int index, BootState? boot) => throw new InvalidOperationException("no vCPUs in a benchmark");

        public IInterruptLine GetInterruptLine(int gsi) => new NoLine(gsi);

        public bool TryRegisterNotifyEvent(GuestAddress address, int width, EventNotifier notifier, out IDisposable? registration)
        {
            registration = null;
            return false; // notifications take the MMIO path measured here
        }

        public void Dispose()
        {
        }
    }

    private sealed class NoLine(int number) : IInterruptLine
    {
        public int Number => number;

        public void Assert()
        {
        }

        public void Deassert()
        {
        }

        public void Pulse()
        {
        }
    }
}
