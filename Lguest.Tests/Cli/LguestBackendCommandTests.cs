using Lguest.Cli;
using Lguest.DevLguest;
using Lguest.Machine;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Cli;

/// <summary>
/// The lguest command on the /dev/lguest backend, the Host played by the simulator: the same composition the
/// command makes (the virtio console as device 1, then the devices in command-line order), the seed's exit
/// status for a dead guest and for a bad driver under --strict, and the console working on hvc0.
/// </summary>
public class LguestBackendCommandTests
{
    private const uint Ram = 64 << 20; // room for a bzImage at the lguest platform's 16 MiB alignment
    private const uint ConsoleBar = Ram, SecondBar = Ram + (uint)VirtioPciTransport.BarSize;

    private TemporaryFolder _files = null!;
    private string _kernel = null!;

    [SetUp]
    public void SetUp()
    {
        _files = new TemporaryFolder();
        _kernel = _files.Write("bzImage", new BzImageBuilder().Build());
    }

    [TearDown]
    public void TearDown() => _files.Dispose();

    private (ExitCode Code, string Stdout, string Stderr, LguestHostSimulator Host) Run(LguestHostSimulator host, params string[] args)
    {
        Assert.That(RunArguments.TryParse([.. args.TakeWhile(a => a != "KERNEL"), "64", _kernel, .. args.SkipWhile(a => a != "KERNEL").Skip(1)],
            out RunArguments arguments, out string? error), Is.True, error);
        var output = new MemoryStream();
        var stderr = new StringWriter();
        var environment = new RunEnvironment(new MemoryStream(), output, stderr, OwnsTerminal: false);
        using var backend = new HypervisorBackend(new LguestHypervisor(() => host), MachineProfile.Lguest);
        ExitCode code = RunCommand.Execute(arguments, environment, backend);
        return (code, System.Text.Encoding.ASCII.GetString(output.ToArray()), stderr.ToString(), host);
    }

    [Test]
    public void A_guest_that_dies_exits_1_with_the_host_s_reason_as_the_seed_did()
    {
        (ExitCode code, _, string stderr, _) = Run(new LguestHostSimulator().Die("Bad address 0xdead in the guest"), "KERNEL");
        Assert.That((code, stderr), Is.EqualTo((ExitCode.Failure, "lguest: Bad address 0xdead in the guest\n")));
    }

    [Test]
    public void Under_strict_a_bad_driver_exits_1_with_the_seed_s_message()
    {
        var script = new GuestDriverScript();
        new VirtioDriver(script, SecondBar).Common(VirtioPciCommonConfig.QueueNotifyOff, 2, 1);
        var host = new LguestHostSimulator();
        LguestScriptGuest.Play(script, host);
        (ExitCode code, _, string stderr, _) = Run(host.Die("not reached"), "--strict", "--rng", "KERNEL");
        Assert.That((code, stderr), Is.EqualTo((ExitCode.Failure, "lguest: rng: bad driver: attempt to write to queue_notify_off (0x1)\n")));
    }

    [Test]
    public void By_default_a_bad_driver_costs_its_device_and_the_guest_runs_on_to_a_clean_end()
    {
        var script = new GuestDriverScript();
        var rng = new VirtioDriver(script, SecondBar);
        rng.Common(VirtioPciCommonConfig.QueueNotifyOff, 2, 1);
        rng.ReadStatus();
        var host = new LguestHostSimulator();
        LguestScriptGuest.Play(script, host);
        (ExitCode code, _, string stderr, _) = Run(host.Restart(), "--no-reboot", "--rng", "KERNEL");
        Assert.That((code, stderr), Is.EqualTo((ExitCode.Ok, "")));
        Assert.That(host.Loads.Single(), Is.EqualTo(VirtioDriver.NeedsReset));
    }

    [Test]
    public void The_console_is_device_1_on_interrupt_1_and_the_other_devices_follow_in_command_line_order()
    {
        var script = new GuestDriverScript();
        int console = script.ConfigRead(1, Lguest.Pci.PciHeader.VendorId, 4);
        int consoleIrq = script.ConfigRead(1, Lguest.Pci.PciHeader.InterruptLine, 1);
        int second = script.ConfigRead(2, Lguest.Pci.PciHeader.VendorId, 4);
        int third = script.ConfigRead(3, Lguest.Pci.PciHeader.VendorId, 4);
        int thirdIrq = script.ConfigRead(3, Lguest.Pci.PciHeader.InterruptLine, 1);
        var host = new LguestHostSimulator();
        LguestScriptGuest.Play(script, host);
        string disk = _files.Write("disk.img", new byte[4096]);
        (ExitCode code, _, _, _) = Run(host.Restart(), "--no-reboot", "--rng", "--block=" + disk, "KERNEL");
        Assert.That(code, Is.EqualTo(ExitCode.Ok));
        Assert.That(new[] { host.Loads[console], host.Loads[consoleIrq], host.Loads[second], host.Loads[third], host.Loads[thirdIrq] },
            Is.EqualTo(new uint[] { 0x1043_1af4, 1, 0x1044_1af4, 0x1042_1af4, 3 }), "console (0x1043), rng (0x1044), block (0x1042)");
    }

    [Test]
    public void The_guest_s_console_output_reaches_the_terminal_through_the_virtio_console()
    {
        const uint Descriptors = 0x200000, DriverArea = 0x201000, DeviceArea = 0x202000, Text = 0x210000;
        var script = new GuestDriverScript();
        var console = new VirtioDriver(script, ConsoleBar);
        console.BringUp(8, Descriptors, DriverArea, DeviceArea, queue: 1);
        script.Poke(Text, "hello from hvc0\n"u8.ToArray()).Descriptor(Descriptors, 0, Text, 16, 0).Publish(DriverArea, 0, 0, 1);
        console.Notify(1);
        var host = new LguestHostSimulator();
        LguestScriptGuest.Play(script, host);
        host.WaitForInterrupt().Restart();
        (ExitCode code, string stdout, string stderr, _) = Run(host, "--no-reboot", "KERNEL");
        Assert.That(code, Is.EqualTo(ExitCode.Ok), stderr);
        Assert.That(stdout, Is.EqualTo("hello from hvc0\n"));
        Assert.That(host.Irqs, Is.EqualTo(new[] { 1u }), "the transmit buffer came back on the console's interrupt 1");
    }

    [Test]
    public void The_lguest_machine_refuses_more_than_one_vcpu_with_one_line()
    {
        (ExitCode code, _, string stderr, _) = Run(new LguestHostSimulator(), "--cpus=2", "KERNEL");
        Assert.That((code, stderr), Is.EqualTo((ExitCode.BadInput, "lguest: the lguest machine has 1 vCPU(s); --cpus=2 is too many\n")));
    }

    [Test]
    public void A_guest_error_maps_to_the_seed_s_exit_1_and_a_triple_fault_to_6()
    {
        var error = new StringWriter();
        Assert.That(RunCommand.Report(new GuestExit(GuestExitKind.Failed, "dead"), verbose: false, error), Is.EqualTo(ExitCode.Failure));
        Assert.That(RunCommand.Report(new GuestExit(GuestExitKind.BadDriver, "rng: bad driver: x"), verbose: false, error), Is.EqualTo(ExitCode.Failure));
        Assert.That(RunCommand.Report(new GuestExit(GuestExitKind.TripleFault, "tf"), verbose: false, error), Is.EqualTo(ExitCode.GuestFailed));
        Assert.That(RunCommand.Report(new GuestExit(GuestExitKind.PowerOff, "off"), verbose: false, error), Is.EqualTo(ExitCode.Ok));
        Assert.That(error.ToString(), Is.EqualTo("lguest: dead\nlguest: rng: bad driver: x\nlguest: tf\n"));
    }
}
