using Iced.Intel;
using Lguest.DevLguest;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Tests.Support;
using Lguest.Virtio;
using static Iced.Intel.AssemblerRegisters;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.DevLguest;

/// <summary>
/// The real virtio-pci transport on the simulated Host: a driver brings a device to DRIVER_OK with emulated
/// movs to its BAR, notifies a queue, the device uses the buffer and interrupts, and the interrupt leaves as
/// LHREQ_IRQ; the guest's ISR read lowers INTA#, so the next use interrupts again.
/// </summary>
public class LguestVirtioScriptTests
{
    private const ulong Descriptors = 0x10000, DriverArea = 0x12000, DeviceArea = 0x13000, Buffer = 0x20000;

    private LguestTestBed _bed = null!;
    private PciBus _pci = null!;
    private FakeVirtioDevice _device = null!;
    private VirtioPciTransport _transport = null!;
    private uint _bar;

    [SetUp]
    public void SetUp()
    {
        _bed = new LguestTestBed();
        _pci = new PciBus(_bed.Machine, _bed.MmioBus);
        _bed.PortBus.Register(PciHostBridge.PortBase, PciHostBridge.PortCount, _pci.HostBridge);
        _device = new FakeVirtioDevice(queueSizes: [8]);
        _transport = new VirtioPciTransport(_device, _bed.Machine);
        _pci.Add(_transport);
        _bar = (uint)_transport.Bar.MappedAddress!.Value.Value;
    }

    [TearDown]
    public void TearDown()
    {
        _transport.Dispose();
        _bed.Dispose();
    }

    [Test]
    public void A_driver_reaches_driver_ok_through_emulated_bar_writes()
    {
        BringUp();
        _bed.Host.Die("end");
        List<LguestTestBed.Exit> exits = _bed.RunToEnd();

        Assert.That(_transport.Status, Is.EqualTo(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk | VirtioDeviceStatus.DriverOk));
        VirtioActivation activation = _device.Activations.Single();
        Assert.That(activation.HasFeature(VirtioFeatures.Version1), Is.True);
        Assert.That(activation.Queues.Single()!.Ring.Size, Is.EqualTo(8));
        Assert.That(exits.Where(e => e.Reason == VcpuExitReason.MmioRead).Select(e => e.Data[0]),
            Has.Member((byte)(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk)),
            "the driver read FEATURES_OK back");
        Assert.That(_bed.Host.Traps, Is.Empty);
    }

    [Test]
    public void A_queue_notify_leads_to_a_used_buffer_and_an_lhreq_irq()
    {
        int steps = BringUp();
        // vp_notify: iowrite16(0, notify address of queue 0); then vp_interrupt reads the ISR.
        Store(a => a.mov(__word_ptr[edx], ax), VirtioPciTransport.NotifyOffset, 0);
        Load(a => a.mov(al, __byte_ptr[edx]), VirtioPciTransport.IsrOffset);
        _bed.Host.Die("end");
        for (int i = 0; i < steps; i++)
            _bed.Step();
        Virtqueue queue = _device.Active!.Queues[0]!;
        // The driver's side of the ring lives in guest RAM, which the guest writes without a trap.
        new RingBuilder(_bed.Memory, 8) { Descriptors = new(Descriptors), Available = new(DriverArea), Used = new(DeviceArea) }
            .Descriptor(0, Buffer, 64, write: true)
            .MakeAvailable(0);

        Assert.That(_bed.Step().Reason, Is.EqualTo(VcpuExitReason.MmioWrite));
        Assert.That(queue.Notifier.Wait(timeoutMilliseconds: 0), Is.True, "the emulated write signalled the queue");
        // The device's worker: take the buffer, fill it, hand it back, interrupt.
        Assert.That(queue.Ring.TryPop(out DescriptorChain chain), Is.True);
        queue.Ring.Push(chain.Head, 64);
        _device.Active.Transport.SignalUsedBuffers(0);

        int gsi = _pci.InterruptRoutes.Single(r => r.Device == _transport.DeviceNumber).Gsi;
        Assert.That(_bed.Host.Irqs, Is.EqualTo(new[] { (uint)gsi }));
        Assert.That(_bed.Memory.Read<ushort>(new GuestAddress(DeviceArea + 2)), Is.EqualTo(1), "used.idx");
        Assert.That(_bed.Step().Reason, Is.EqualTo(VcpuExitReason.MmioRead));
        _device.Active.Transport.SignalUsedBuffers(0);
        Assert.That(_bed.Host.Irqs, Has.Count.EqualTo(2), "the ISR read lowered INTA#: the next use is a new edge");

        Assert.That(_bed.Step().Reason, Is.EqualTo(VcpuExitReason.Failed));
        Assert.That(_bed.Host[UserRegs.Eax] & 0xff, Is.EqualTo(IsrQueue), "the ISR said: a used buffer");
    }

    [Test]
    public void A_bad_driver_write_through_an_emulated_mov_costs_the_device_a_reset_and_the_guest_runs_on()
    {
        Store(a => a.mov(__word_ptr[edx], ax), NumQueues, 1);   // num_queues is read-only
        Load(a => a.mov(al, __byte_ptr[edx]), DeviceStatus);
        _bed.Host.Die("end");
        List<LguestTestBed.Exit> exits = _bed.RunToEnd();
        Assert.That(exits.Select(e => e.Reason), Is.EqualTo(new[] { VcpuExitReason.MmioWrite, VcpuExitReason.MmioRead, VcpuExitReason.Failed }));
        Assert.That(_bed.Host[UserRegs.Eax] & 0xff, Is.EqualTo((uint)VirtioDeviceStatus.DeviceNeedsReset));
        Assert.That(_bed.Host.Traps, Is.Empty);
    }

    [Test]
    public void In_strict_mode_a_bad_driver_write_ends_the_run_loop_with_the_seeds_message()
    {
        using var bed = new LguestTestBed();
        var pci = new PciBus(bed.Machine, bed.MmioBus);
        using var transport = new VirtioPciTransport(new FakeVirtioDevice("console"), bed.Machine,
            new VirtioPciTransportOptions { Strict = true, Fatal = _ => { } });
        pci.Add(transport);
        uint address = (uint)transport.Bar.MappedAddress!.Value.Value + NumQueues;
        bed.Host.Mmio(GuestCode.Insn(a => a.mov(__word_ptr[edx], ax)), address, (UserRegs.Edx, address), (UserRegs.Eax, 1));

        Assert.That(() => bed.Step(), Throws.TypeOf<BadDriverException>().With.Message.EqualTo("console: bad driver: Unexpected write to offset 18 (0x1 to read-only num_queues)"));
    }

    /// <summary>virtio 1.2 §3.1.1 as virtio_pci_modern does it, one emulated instruction per register access. Returns the steps added.</summary>
    private int BringUp()
    {
        int before = _bed.Host.Remaining;
        const byte acknowledge = (byte)VirtioDeviceStatus.Acknowledge;
        const byte driver = acknowledge | (byte)VirtioDeviceStatus.Driver;
        const byte featuresOk = driver | (byte)VirtioDeviceStatus.FeaturesOk;
        Store(a => a.mov(__byte_ptr[edx], al), DeviceStatus, 0);
        Store(a => a.mov(__byte_ptr[edx], al), DeviceStatus, acknowledge);
        Store(a => a.mov(__byte_ptr[edx], al), DeviceStatus, driver);
        Store(a => a.mov(__dword_ptr[edx], eax), DeviceFeatureSelect, 1);
        Load(a => a.mov(eax, __dword_ptr[edx]), DeviceFeature);
        Store(a => a.mov(__dword_ptr[edx], eax), DriverFeatureSelect, 0);
        Store(a => a.mov(__dword_ptr[edx], eax), DriverFeature, 0);
        Store(a => a.mov(__dword_ptr[edx], eax), DriverFeatureSelect, 1);
        Store(a => a.mov(__dword_ptr[edx], eax), DriverFeature, (uint)(VirtioFeatures.Version1 >> 32));
        Store(a => a.mov(__byte_ptr[edx], al), DeviceStatus, featuresOk);
        Load(a => a.mov(al, __byte_ptr[edx]), DeviceStatus);
        Load(a => a.mov(ax, __word_ptr[edx]), NumQueues);
        Store(a => a.mov(__word_ptr[edx], ax), QueueSelect, 0);
        Load(a => a.mov(ax, __word_ptr[edx]), QueueSize);
        Store(a => a.mov(__dword_ptr[edx], eax), QueueDesc, (uint)Descriptors);
        Store(a => a.mov(__dword_ptr[edx], eax), QueueDesc + 4, 0);
        Store(a => a.mov(__dword_ptr[edx], eax), QueueDriver, (uint)DriverArea);
        Store(a => a.mov(__dword_ptr[edx], eax), QueueDriver + 4, 0);
        Store(a => a.mov(__dword_ptr[edx], eax), QueueDevice, (uint)DeviceArea);
        Store(a => a.mov(__dword_ptr[edx], eax), QueueDevice + 4, 0);
        Load(a => a.mov(ax, __word_ptr[edx]), QueueNotifyOff);
        Store(a => a.mov(__word_ptr[edx], ax), QueueEnable, 1);
        Store(a => a.mov(__byte_ptr[edx], al), DeviceStatus, featuresOk | (byte)VirtioDeviceStatus.DriverOk);
        return _bed.Host.Remaining - before;
    }

    private void Store(Action<Assembler> emit, int offset, uint value)
    {
        uint address = _bar + (uint)offset;
        _bed.Host.Mmio(GuestCode.Insn(emit), address, (UserRegs.Edx, address), (UserRegs.Eax, value));
    }

    private void Load(Action<Assembler> emit, int offset)
    {
        uint address = _bar + (uint)offset;
        _bed.Host.Mmio(GuestCode.Insn(emit), address, (UserRegs.Edx, address), (UserRegs.Eax, 0));
    }
}
