using Lguest.Devices;
using Lguest.Machine;
using Lguest.Pci;
using Lguest.Tests.Support;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Machine;

/// <summary>
/// Every bad_driver check of the newest seed (002, tools/lguest/lguest.c of Linux 4.x) that the launcher keeps,
/// on both backends, through the whole machine: a test guest's driver breaks the rule through the same bus the
/// vCPU loop dispatches to (on /dev/lguest, the simulated Host's traps on real instruction bytes; on KVM, a real
/// program). By default the device goes to DEVICE_NEEDS_RESET and the guest runs on to its end; under
/// <see cref="LauncherOptions.StrictDrivers"/> the run ends as the seed's did, with "&lt;device&gt;: bad driver: &lt;what&gt;".
/// The seed's checks the launcher drops on purpose are listed in Lguest.Core/Pci/README.md.
/// </summary>
public class BadDriverTests
{
    private const uint Descriptors = 0x200000, DriverArea = 0x201000, DeviceArea = 0x202000, Table = 0x203000, Buffer = 0x210000;
    private const uint Outside = 0xf000_0000; // beyond the 16 MiB of RAM on both machines, and no BAR there
    private const ushort Next = 1, Write = 2, Indirect = 4; // VRING_DESC_F_*
    private const uint IndirectFeature = 1u << 28; // VIRTIO_F_INDIRECT_DESC

    /// <summary>One check: what the seed said, what we say (seed's words first), and the driver that breaks it.</summary>
    /// <param name="Name">The check, for the test's name.</param>
    /// <param name="Device">"rng" or "console".</param>
    /// <param name="Seed">The seed's bad_driver format string for it.</param>
    /// <param name="Expected">The whole message under --strict.</param>
    /// <param name="Drive">The driver's accesses up to and including the violation.</param>
    /// <param name="FoundByWorker">The device's worker finds it when it uses the queue (after a notify), not the register path.</param>
    internal sealed record Case(string Name, string Device, string Seed, string Expected, Action<VirtioDriver> Drive, bool FoundByWorker = false)
    {
        public override string ToString() => Name;
    }

    private static VirtioDriver Up(VirtioDriver d, uint features = 0, int queue = 0) => d.BringUp(8, Descriptors, DriverArea, DeviceArea, features, queue);

    // A request on queue <queue>: the chain at descriptor 0, published in avail slot 0, then the notification.
    private static void Request(VirtioDriver d, Action<GuestDriverScript> descriptors, int queue = 0)
    {
        descriptors(d.Script);
        d.Script.Publish(DriverArea, 0, 0, 1);
        d.Notify(queue);
    }

    private static VirtioDriver Acknowledged(VirtioDriver d) => d.Status(0).Status(VirtioDriver.Acknowledge).Status(VirtioDriver.Driver);

    // FEATURES_OK written and not read back.
    private static VirtioDriver FeaturesOkUnread(VirtioDriver d)
    {
        Acknowledged(d).Common(DriverFeatureSelect, 4, 1).Common(DriverFeature, 4, (uint)(VirtioFeatures.Version1 >> 32));
        return d.Status(VirtioDriver.FeaturesOk);
    }

    internal static IEnumerable<Case> Cases()
    {
        // emulate_mmio_write: device status (virtio 1.2 §2.1, §3.1.1)
        yield return new("status bit cleared", "rng", "unset of device status bit %#x -> %#x", "rng: bad driver: unset of device status bit 0x3 -> 0x1",
            d => Acknowledged(d).Status(VirtioDriver.Acknowledge));
        yield return new("unknown status bit", "rng", "unknown device status bit %#x -> %#x", "rng: bad driver: unknown device status bit 0x1 -> 0x11",
            d => d.Status(0).Status(VirtioDriver.Acknowledge).Status(VirtioDriver.Acknowledge | 0x10));
        yield return new("status step out of order", "rng", "unexpected status transition %#x -> %#x",
            "rng: bad driver: unexpected status transition 0x0 -> 0x2 (DRIVER before ACKNOWLEDGE)",
            d => d.Status(0).Status((byte)VirtioDeviceStatus.Driver));
        yield return new("DRIVER_OK without re-reading FEATURES_OK", "rng", "did not re-read FEATURES_OK", "rng: bad driver: did not re-read FEATURES_OK",
            d => FeaturesOkUnread(d).Status(VirtioDriver.DriverOk));
        // Feature negotiation
        yield return new("feature write before DRIVER", "rng", "feature write before VIRTIO_CONFIG_S_DRIVER", "rng: bad driver: feature write before VIRTIO_CONFIG_S_DRIVER",
            d => d.Status(0).Status(VirtioDriver.Acknowledge).Common(DriverFeature, 4, 0));
        yield return new("feature write after FEATURES_OK", "rng", "feature write after VIRTIO_CONFIG_S_FEATURES_OK",
            "rng: bad driver: feature write after VIRTIO_CONFIG_S_FEATURES_OK", d => d.Negotiate().Common(DriverFeature, 4, 0));
        // Queue set-up
        yield return new("queue set up before FEATURES_OK", "rng", "setting up vq before FEATURES_OK", "rng: bad driver: setting up vq before FEATURES_OK (queue 0)",
            d => Acknowledged(d).Common(QueueSelect, 2, 0).Common(QueueSize, 2, 8));
        yield return new("queue set up without re-reading FEATURES_OK", "rng", "didn't re-read FEATURES_OK before setup",
            "rng: bad driver: didn't re-read FEATURES_OK before setup (queue 0)", d => FeaturesOkUnread(d).Common(QueueSelect, 2, 0).Common(QueueSize, 2, 8));
        yield return new("queue size not a power of two", "rng", "invalid queue size %u", "rng: bad driver: invalid queue size 3 (queue 0: a power of two up to 8)",
            d => d.Negotiate().Common(QueueSelect, 2, 0).Common(QueueSize, 2, 3));
        yield return new("queue size changed while live", "rng", "changing queue size on live device", "rng: bad driver: changing queue size on live device (queue 0)",
            d => d.Negotiate().PlaceQueue(0, 8, Descriptors, DriverArea, DeviceArea).EnableQueue(0).Common(QueueSize, 2, 4));
        yield return new("queue address changed while live", "rng", "changing queue on live device", "rng: bad driver: changing queue on live device (queue_desc of queue 0)",
            d => d.Negotiate().PlaceQueue(0, 8, Descriptors, DriverArea, DeviceArea).EnableQueue(0).Common(QueueDesc, 4, Table));
        yield return new("queue_enable 0", "rng", "setting queue_enable to %u", "rng: bad driver: setting queue_enable to 0 (queue 0)",
            d => d.Negotiate().PlaceQueue(0, 8, Descriptors, DriverArea, DeviceArea).Common(QueueEnable, 2, 0));
        yield return new("queue enabled after DRIVER_OK", "rng", "enabling vq after DRIVER_OK", "rng: bad driver: enabling vq after DRIVER_OK (queue 0)",
            d => d.Negotiate().PlaceQueue(0, 8, Descriptors, DriverArea, DeviceArea).Status(VirtioDriver.DriverOk).EnableQueue(0));
        yield return new("queue enabled twice", "rng", "(none: the seed re-checked the queue)", "rng: bad driver: queue 0 enabled twice",
            d => d.Negotiate().PlaceQueue(0, 8, Descriptors, DriverArea, DeviceArea).EnableQueue(0).EnableQueue(0));
        // check_virtqueue, check_pointer
        yield return new("misaligned ring", "rng", "invalid alignment in queue addresses",
            "rng: bad driver: invalid alignment in queue addresses (queue 0 (size 8): descriptors 0x200008, driver area 0x201000, device area 0x202000)",
            d => d.Negotiate().PlaceQueue(0, 8, Descriptors + 8, DriverArea, DeviceArea).EnableQueue(0));
        yield return new("ring outside guest memory", "rng", "%s:%i: Invalid address %#lx",
            "rng: bad driver: invalid address: queue 0 (size 8): descriptors 0xf0000000, driver area 0x201000, device area 0x202000, not all in guest memory",
            d => d.Negotiate().PlaceQueue(0, 8, Outside, DriverArea, DeviceArea).EnableQueue(0));
        // Read-only and write-only registers
        yield return new("write to queue_notify_off", "rng", "attempt to write to queue_notify_off", "rng: bad driver: attempt to write to queue_notify_off (0x5)",
            d => d.Common(QueueNotifyOff, 2, 5));
        yield return new("write to num_queues", "rng", "Unexpected write to offset %u", "rng: bad driver: Unexpected write to offset 18 (0x1 to read-only num_queues)",
            d => d.Common(NumQueues, 2, 1));
        yield return new("write where no register is", "rng", "Unexpected write to offset %u", "rng: bad driver: Unexpected write to offset 56 (4 byte(s); no register there)",
            d => d.Common(0x38, 4, 0));
        yield return new("write to the ISR", "rng", "Unexpected write to isr", "rng: bad driver: Unexpected write to isr (1 byte(s) at 0x1000)",
            d => d.Script.Store(d.Bar + VirtioPciTransport.IsrOffset, 1, 1));
        yield return new("read of the notification area", "rng", "notify before VIRTIO_CONFIG_S_DRIVER_OK",
            "rng: bad driver: read of the notification area at 0x3000 (it is write-only)", d => d.Script.Load(d.Bar + VirtioPciTransport.NotifyOffset, 2));
        yield return new("notification of a queue that does not exist", "rng", "Invalid vq notification on %u",
            "rng: bad driver: Invalid vq notification on 1 (2 byte(s) at 0x3004: 1 queue slot(s) of 4 bytes, written 2 bytes at a time)",
            d => Up(d).Notify(1));
        // Access widths (virtio 1.2 §4.1.3.1) and holes
        yield return new("non-16-bit write", "rng", "non-16-bit write to offset %u (%#x)", "rng: bad driver: non-16-bit write to offset 22 (4-byte write of queue_select)",
            d => d.Common(QueueSelect, 4, 0));
        yield return new("non-32-bit write", "rng", "non-32-bit write to offset %u (%#x)", "rng: bad driver: non-32-bit write to offset 8 (2-byte write of driver_feature_select)",
            d => d.Common(DriverFeatureSelect, 2, 0));
        yield return new("non-8-bit read", "rng", "non-8-bit read to offset %u (%#x)", "rng: bad driver: non-8-bit read from offset 20 (2-byte read of device_status)",
            d => d.Script.Load(d.Bar + DeviceStatus, 2));
        yield return new("non-8-bit read of the ISR", "rng", "non-8-bit read from offset %u (%#x)",
            "rng: bad driver: non-8-bit read from offset 4096 (2 byte(s) at the one-byte isr)", d => d.Script.Load(d.Bar + VirtioPciTransport.IsrOffset, 2));
        yield return new("read from padding", "rng", "read from padding (%#x)", "rng: bad driver: read from padding (4 byte(s) at offset 56)",
            d => d.Script.Load(d.Bar + 0x38, 4));
        yield return new("read past the device configuration", "rng", "read past end (%#x)",
            "rng: bad driver: read past end (4 byte(s) at device configuration offset 0, of 0)", d => d.Script.Load(d.Bar + VirtioPciTransport.DeviceConfigOffset, 4));
        // pci_data_ioread: the VIRTIO_PCI_CAP_PCI_CFG window
        yield return new("configuration window on another BAR", "rng", "Invalid cfg_access to bar%u, offset %u len %u",
            "rng: bad driver: Invalid cfg_access to bar1, offset 0 len 0 (a window read)", d =>
            {
                d.Script.ConfigWrite(1, VirtioPciTransport.PciConfigCapability + 4, 1, 1);
                d.Script.ConfigRead(1, VirtioPciTransport.PciConfigCapability + 16, 4);
            });
        yield return new("configuration write into a capability", "rng", "(none: the seed's pci_data_iowrite refused it and re-injected #GP)",
            "rng: bad driver: configuration write of 4 byte(s) at 0x48, inside a virtio capability", d => d.Script.ConfigWrite(1, VirtioPciTransport.CommonCapability + 8, 4, 0));

        // wait_for_vq_desc, next_desc, trigger_irq: found by the device's worker when it takes the request
        yield return new("head index beyond the queue", "rng", "Guest says index %u is available", "rng vq 0: bad driver: Guest says index 9 is available (beyond queue size 8)",
            d => { Up(d); d.Script.Publish(DriverArea, 0, 9, 1); d.Notify(0); }, FoundByWorker: true);
        yield return new("available index moved too far", "rng", "Guest moved used index from %u to %u",
            "rng vq 0: bad driver: Guest moved the available index from 0 to 9, more than the queue size 8",
            d => { Up(d); d.Script.Poke16(DriverArea + 2, 9); d.Notify(0); }, FoundByWorker: true);
        yield return new("next beyond the table", "rng", "Desc next is %u",
            "rng vq 0: bad driver: Desc next is 9 (descriptor 0 has next 9 beyond the table size 8)",
            d => Request(Up(d), s => s.Descriptor(Descriptors, 0, Buffer, 16, Write | Next, 9)), FoundByWorker: true);
        yield return new("looped descriptors", "rng", "Looped descriptor", "rng vq 0: bad driver: Looped descriptor (the chain loops or is longer than the queue size)",
            d => Request(Up(d), s => s.Descriptor(Descriptors, 0, Buffer, 16, Write | Next, 1).Descriptor(Descriptors, 1, Buffer, 16, Write | Next, 0)), FoundByWorker: true);
        yield return new("indirect not negotiated", "rng", "vq indirect not negotiated",
            "rng vq 0: bad driver: vq indirect not negotiated (an indirect descriptor without VIRTIO_F_INDIRECT_DESC)",
            d => Request(Up(d), s => s.Descriptor(Descriptors, 0, Table, 16, Indirect)), FoundByWorker: true);
        yield return new("indirect within indirect", "rng", "Indirect within indirect",
            "rng vq 0: bad driver: Indirect within indirect (an indirect table inside an indirect table)",
            d => Request(Up(d, IndirectFeature), s => s.Descriptor(Descriptors, 0, Table, 16, Indirect).Descriptor(Table, 0, Table, 16, Indirect)), FoundByWorker: true);
        yield return new("indirect and next together", "rng", "indirect and next together", "rng vq 0: bad driver: indirect and next together",
            d => Request(Up(d, IndirectFeature), s => s.Descriptor(Descriptors, 0, Table, 16, Indirect | Next, 1)), FoundByWorker: true);
        yield return new("indirect table of a bad size", "rng", "Invalid size for indirect table",
            "rng vq 0: bad driver: Invalid size for indirect table: indirect table length 20 is not a non-zero multiple of 16",
            d => Request(Up(d, IndirectFeature), s => s.Descriptor(Descriptors, 0, Table, 20, Indirect)), FoundByWorker: true);
        yield return new("indirect table with too many entries", "rng", "indirect has too many entries",
            "rng vq 0: bad driver: indirect has too many entries (16, more than the queue size 8)",
            d => Request(Up(d, IndirectFeature), s => s.Descriptor(Descriptors, 0, Table, 256, Indirect)), FoundByWorker: true);
        yield return new("buffer outside guest memory", "rng", "%s:%i: Invalid address %#lx",
            "rng vq 0: bad driver: Invalid address: descriptor 0 buffer [0xf0000000, +0x10) is outside guest memory",
            d => Request(Up(d), s => s.Descriptor(Descriptors, 0, Outside, 16, Write)), FoundByWorker: true);
        yield return new("readable after writable", "rng", "Descriptor has out after in",
            "rng vq 0: bad driver: Descriptor has out after in (descriptor 1 is device-readable after a device-writable one)",
            d => Request(Up(d), s => s.Descriptor(Descriptors, 0, Buffer, 16, Write | Next, 1).Descriptor(Descriptors, 1, Buffer + 16, 16, 0)), FoundByWorker: true);
        yield return new("available ring flags other than 0 or 1", "rng", "avail->flags = %u",
            "rng vq 0: bad driver: avail->flags = 2 (only 0 or 1 without VIRTIO_F_EVENT_IDX)",
            d => Request(Up(d), s => s.Descriptor(Descriptors, 0, Buffer, 16, Write).Poke16(DriverArea, 2)), FoundByWorker: true);
        // Devices' own queue rules
        yield return new("device-readable buffer for the entropy device", "rng", "Output buffers in rng?",
            "rng vq 0: bad driver: device-readable buffer in the entropy request queue",
            d => Request(Up(d), s => s.Descriptor(Descriptors, 0, Buffer, 16, 0)), FoundByWorker: true);
        yield return new("device-readable buffer in the console's receive queue", "console", "Output buffers in console in queue?",
            "console vq 0: bad driver: device-readable buffer in the console's receive queue",
            d => Request(Up(d, queue: 0), s => s.Descriptor(Descriptors, 0, Buffer, 16, 0), queue: 0), FoundByWorker: true);
        yield return new("device-writable buffer in the console's transmit queue", "console", "Input buffers in console output queue?",
            "console vq 1: bad driver: device-writable buffer in the console's transmit queue",
            d => Request(Up(d, queue: 1), s => s.Descriptor(Descriptors, 0, Buffer, 16, Write), queue: 1), FoundByWorker: true);
    }

    private static IEnumerable<TestCaseData> On(TestMachine.Backend backend) =>
        Cases().Select(c =>
        {
            var data = new TestCaseData(c.Name, backend == TestMachine.Backend.Kvm).SetArgDisplayNames(c.Name, backend.ToString());
            return backend == TestMachine.Backend.Kvm ? data.SetCategory("Kvm") : data;
        });

    private static (Case Case, TestMachine.Backend Backend) Find(string name, bool kvm) =>
        (Cases().Single(c => c.Name == name), kvm ? TestMachine.Backend.Kvm : TestMachine.Backend.Lguest);

    public static IEnumerable<TestCaseData> Everywhere() => On(TestMachine.Backend.Lguest).Concat(On(TestMachine.Backend.Kvm));

    private static IPlatformDeviceFactory DeviceOf(Case c) => c.Device == "console"
        ? TestMachine.Device(s => s.AddVirtioConsole(o =>
        {
            o.Input = new MemoryStream("x"u8.ToArray()); // input waiting, so the receive worker takes the buffer
            o.Output = Stream.Null;
            o.QueueSize = 8;
        }))
        : TestMachine.Device(s => s.AddVirtioRng(o => o.QueueSize = 8));

    /// <summary>The driver breaks the rule, then looks at the status (waiting for the worker where it finds it), then goes on.</summary>
    private static (GuestDriverScript Script, int Status, int Vendor) Script(Case c, TestMachine.Backend backend)
    {
        var script = new GuestDriverScript();
        var driver = new VirtioDriver(script, TestMachine.FirstBar(backend));
        c.Drive(driver);
        int status = c.FoundByWorker ? driver.WaitForNeedsReset() : driver.ReadStatus();
        int vendor = script.ConfigRead(1, PciHeader.VendorId, 2);
        return (script, status, vendor);
    }

    [TestCaseSource(nameof(Everywhere))]
    public void By_default_the_device_needs_a_reset_and_the_guest_runs_on(string check, bool kvm)
    {
        (Case c, TestMachine.Backend backend) = Find(check, kvm);
        (GuestDriverScript script, int status, int vendor) = Script(c, backend);
        TestMachine.Result run = TestMachine.Run(backend, script, [DeviceOf(c)]);
        Assert.That(run.Exit.Kind, Is.EqualTo(backend == TestMachine.Backend.Lguest ? GuestExitKind.Failed : GuestExitKind.PowerOff), run.Exit.Message);
        if (backend == TestMachine.Backend.Lguest)
            Assert.That(run.Exit.Message, Is.EqualTo(TestMachine.EndOfScript), "the guest ran to its end");
        Assert.That(run.Loads, Has.Count.EqualTo(script.LoadCount), "every load of the script ran");
        Assert.That(run.Loads[status] & VirtioDriver.NeedsReset, Is.EqualTo(VirtioDriver.NeedsReset), $"DEVICE_NEEDS_RESET in status 0x{run.Loads[status]:x}");
        Assert.That(run.Loads[vendor], Is.EqualTo(VirtioPciTransport.VirtioVendorId), "the guest still reaches the bus");
    }

    [TestCaseSource(nameof(Everywhere))]
    public void Under_strict_the_run_ends_with_the_seed_s_message(string check, bool kvm)
    {
        (Case c, TestMachine.Backend backend) = Find(check, kvm);
        (GuestDriverScript script, _, _) = Script(c, backend);
        TestMachine.Result run = TestMachine.Run(backend, script, [DeviceOf(c)], strict: true);
        Assert.That(run.Exit, Is.EqualTo(new GuestExit(GuestExitKind.BadDriver, c.Expected)));
        Assert.That(run.Exit.IsClean, Is.False);
    }
}
