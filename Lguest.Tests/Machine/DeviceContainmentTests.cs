using Lguest.Devices;
using Lguest.Machine;
using Lguest.Pci;
using Lguest.Tests.Devices;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Machine;

/// <summary>
/// A hostile chain at a third-party device (<see cref="EchoDevice"/>, on the public <see cref="VirtioDevice"/> base)
/// in a whole machine: that device alone goes to DEVICE_NEEDS_RESET; the entropy device beside it serves a request
/// afterwards, and the guest runs on to its own end.
/// </summary>
public class DeviceContainmentTests
{
    // Echo's rings and rng's rings, apart, inside the 16 MiB of both machines.
    private const uint EchoRings = 0x200000, RngRings = 0x300000, Buffer = 0x310000;
    private const ushort Next = 1, Write = 2; // VRING_DESC_F_*

    public static IEnumerable<TestCaseData> Backends() =>
    [
        new TestCaseData(false).SetArgDisplayNames("Lguest"),
        new TestCaseData(true).SetArgDisplayNames("Kvm").SetCategory("Kvm"),
    ];

    [TestCaseSource(nameof(Backends))]
    public void A_looping_chain_at_the_sample_device_costs_only_that_device(bool kvm)
    {
        TestMachine.Backend backend = kvm ? TestMachine.Backend.Kvm : TestMachine.Backend.Lguest;
        // rng in slot 1 at the bus's first BAR; echo in slot 2, its BAR moved by the driver well past rng's.
        uint rngBar = TestMachine.FirstBar(backend);
        uint echoBar = rngBar + 0x10000;
        var script = new GuestDriverScript();
        script.ConfigWrite(2, PciHeader.BaseAddress0, 4, echoBar);
        int echoVendor = script.ConfigRead(2, PciHeader.DeviceId, 2);
        var echo = new VirtioDriver(script, echoBar);
        echo.BringUp(8, EchoRings, EchoRings + 0x1000, EchoRings + 0x2000);
        script.Descriptor(EchoRings, 0, Buffer, 16, Next, 1)
            .Descriptor(EchoRings, 1, Buffer, 16, Write | Next, 0)   // back to 0: the chain loops
            .Publish(EchoRings + 0x1000, 0, 0, 1);
        echo.Notify(0);
        int echoBroken = echo.WaitForNeedsReset();

        var rng = new VirtioDriver(script, rngBar);
        rng.BringUp(8, RngRings, RngRings + 0x1000, RngRings + 0x2000);
        script.Descriptor(RngRings, 0, Buffer, 16, Write).Publish(RngRings + 0x1000, 0, 0, 1);
        rng.Notify(0);
        int rngServed = script.Poll(rngBar + VirtioPciTransport.IsrOffset, 1, VirtioPciCommonConfig.IsrQueue);
        int rngStatus = rng.ReadStatus();
        int echoStatus = echo.ReadStatus();

        TestMachine.Result run = TestMachine.Run(backend, script,
            [TestMachine.Device(s => s.AddVirtioRng(o => o.QueueSize = 8)), TestMachine.Device(s => s.AddEcho())]);

        Assert.That(run.Exit.Kind, Is.EqualTo(backend == TestMachine.Backend.Lguest ? GuestExitKind.Failed : GuestExitKind.PowerOff), run.Exit.Message);
        if (backend == TestMachine.Backend.Lguest)
            Assert.That(run.Exit.Message, Is.EqualTo(TestMachine.EndOfScript), "the guest ran to its end");
        Assert.Multiple(() =>
        {
            Assert.That(run.Loads, Has.Count.EqualTo(script.LoadCount), "every load of the script ran");
            Assert.That(run.Loads[echoVendor], Is.EqualTo(VirtioPciTransport.ModernDeviceIdBase + (int)EchoDevice.EchoType));
            Assert.That(run.Loads[echoBroken] & VirtioDriver.NeedsReset, Is.EqualTo(VirtioDriver.NeedsReset), "the echo device needs a reset");
            Assert.That(run.Loads[rngServed] & VirtioPciCommonConfig.IsrQueue, Is.EqualTo(VirtioPciCommonConfig.IsrQueue), "rng served its request afterwards");
            Assert.That(run.Loads[rngStatus], Is.EqualTo(VirtioDriver.DriverOk), "rng is untouched");
            Assert.That(run.Loads[echoStatus] & VirtioDriver.NeedsReset, Is.EqualTo(VirtioDriver.NeedsReset), "echo stays broken until its driver resets it");
        });
    }
}
