using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Lguest.Boot;
using Lguest.DevLguest;
using Lguest.Devices;
using Lguest.Machine;
using Lguest.Pci;
using Lguest.Tests.Support;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Machine;

/// <summary>
/// A whole lguest machine built by the <see cref="Launcher"/> on the /dev/lguest backend, the Host played by the
/// simulator from scripts of real instruction bytes: the seed's boot layout in LHREQ_INITIALIZE and the zero page,
/// the PCI bus as Linux enumerates it, a virtio device to DRIVER_OK and an interrupt back, death and reboot.
/// </summary>
public class LguestMachineTests
{
    private const uint Descriptors = 0x200000, DriverArea = 0x201000, DeviceArea = 0x202000, Buffer = 0x210000;
    /// <summary>Room for a bzImage at the 16 MiB the lguest platform aligns kernels to.</summary>
    private const ulong KernelRam = 64 << 20;
    private const int RamPages = (int)(KernelRam / 4096);

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

    private static IPlatformDeviceFactory Rng() => TestMachine.Device(s => s.AddVirtioRng(o => o.QueueSize = 8));

    private (GuestExit Exit, LguestHostSimulator[] Hosts, KernelBootImage Image) Boot(Func<int, LguestHostSimulator> scriptOfBoot,
        bool noReboot = true, string commandLine = "root=/dev/vda console=hvc0", params IPlatformDeviceFactory[] devices)
    {
        var hosts = new List<LguestHostSimulator>();
        using var hypervisor = new LguestHypervisor(() =>
        {
            LguestHostSimulator host = scriptOfBoot(hosts.Count);
            hosts.Add(host);
            return host;
        });
        using var image = new KernelBootImage(_kernel, null, commandLine);
        using var launcher = new Launcher(hypervisor, image,
            new LauncherOptions { MemoryBytes = KernelRam, NoReboot = noReboot }, devices, profile: MachineProfile.Lguest);
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        GuestExit exit = launcher.Run(guard.Token);
        return (exit, hosts.ToArray(), image);
    }

    [Test]
    public void Booting_initializes_the_guest_with_the_seed_s_layout_ram_from_0_and_256_device_pages_above()
    {
        (GuestExit exit, LguestHostSimulator[] hosts, _) = Boot(_ => new LguestHostSimulator().Die("end"));
        Assert.That(exit, Is.EqualTo(new GuestExit(GuestExitKind.Failed, "end")));
        (uint memoryBase, uint pfnLimit, uint start, uint deviceLimit) = hosts.Single().Initialized!.Value;
        Assert.Multiple(() =>
        {
            Assert.That(pfnLimit, Is.EqualTo(RamPages), "pfnlimit: the RAM's pages");
            Assert.That(deviceLimit, Is.EqualTo(RamPages + LguestHypervisor.DevicePages), "device_limit: DEVICE_PAGES above RAM");
            Assert.That(start, Is.EqualTo(0x100000), "start: the bzImage's code32_start");
            Assert.That(memoryBase % 4096, Is.Zero, "base: the page-aligned host address of guest-physical 0");
            Assert.That(memoryBase, Is.Not.Zero);
        });
    }

    [Test]
    public void The_kernel_is_loaded_for_the_lguest_platform_with_the_seed_s_zero_page_and_command_line()
    {
        (_, LguestHostSimulator[] hosts, KernelBootImage image) = Boot(_ => new LguestHostSimulator().Peek(0, BootParams.Size).Peek(0x1000, 64).Die("end"));
        BootParams zeroPage = MemoryMarshal.Read<BootParams>(hosts[0].Peeks[0]);
        string commandLine = Encoding.ASCII.GetString(hosts[0].Peeks[1]).Split('\0')[0];
        Assert.Multiple(() =>
        {
            Assert.That(image.Loaded!.Boot.Mode, Is.EqualTo(Lguest.Hypervisor.BootCpuMode.Linux32));
            Assert.That(zeroPage.Hdr.HardwareSubarch, Is.EqualTo(LguestLowMemory.HardwareSubarch), "X86_SUBARCH_LGUEST");
            Assert.That(zeroPage.Hdr.Version, Is.EqualTo(0x0207));
            Assert.That(zeroPage.Hdr.LoadFlags & LoadFlags.KeepSegments, Is.EqualTo(LoadFlags.KeepSegments));
            Assert.That(zeroPage.Hdr.KernelAlignment, Is.EqualTo(0x1000000));
            Assert.That(zeroPage.Hdr.CmdLinePtr, Is.EqualTo(0x1000));
            Assert.That(zeroPage.E820Entries, Is.EqualTo(1));
            Assert.That(zeroPage.E820Table[0], Is.EqualTo(new E820Entry(0, KernelRam, E820Type.Ram)));
            Assert.That(zeroPage.AcpiRsdpAddr, Is.Zero, "the lguest machine has no ACPI");
            Assert.That(commandLine, Is.EqualTo("root=/dev/vda console=hvc0"));
        });
    }

    [Test]
    public void Linux_s_pci_scan_finds_the_host_bridge_and_the_virtio_device_on_its_own_interrupt()
    {
        var script = new GuestDriverScript();
        int bridge = script.ConfigRead(0, PciHeader.VendorId, 4);
        int device = script.ConfigRead(1, PciHeader.VendorId, 4);
        int empty = script.ConfigRead(2, PciHeader.VendorId, 4);
        int line = script.ConfigRead(1, PciHeader.InterruptLine, 1);
        int pin = script.ConfigRead(1, PciHeader.InterruptPin, 1);
        int bar0 = script.ConfigRead(1, PciHeader.BaseAddress0, 4);
        int bar1 = script.ConfigRead(1, PciHeader.BaseAddress0 + 4, 4);
        script.ConfigWrite(1, PciHeader.BaseAddress0, 4, 0xffff_ffff);
        int size = script.ConfigRead(1, PciHeader.BaseAddress0, 4);
        script.ConfigWrite(1, PciHeader.BaseAddress0, 4, TestMachine.FirstBar(TestMachine.Backend.Lguest));
        int status = script.Load(TestMachine.FirstBar(TestMachine.Backend.Lguest) + DeviceStatus, 1);

        TestMachine.Result run = TestMachine.RunOnLguest(script, [Rng()]);
        Assert.That(run.Exit.Message, Is.EqualTo(TestMachine.EndOfScript));
        Assert.Multiple(() =>
        {
            Assert.That(run.Loads[bridge], Is.EqualTo(0x1237_8086), "the host bridge in slot 0");
            Assert.That(run.Loads[device], Is.EqualTo(0x1044_1af4), "virtio-rng (0x1040 + 4) in slot 1");
            Assert.That(run.Loads[empty], Is.EqualTo(0xffff_ffff), "nothing in slot 2");
            Assert.That(run.Loads[line], Is.EqualTo(1), "device 1 on interrupt 1, as the seed numbered them");
            Assert.That(run.Loads[pin], Is.EqualTo(1), "INTA#");
            Assert.That(run.Loads[bar0], Is.EqualTo(TestMachine.RamBytes | 0x4), "BAR 0 in the device pages right above RAM, 64-bit memory");
            Assert.That(run.Loads[bar1], Is.Zero);
            Assert.That(run.Loads[size], Is.EqualTo(0xffff_c004), "16 KiB");
            Assert.That(run.Loads[status], Is.Zero, "the BAR decodes where it was put back");
            Assert.That(run.Host!.Traps, Is.Empty, "every access was emulated");
        });
    }

    [Test]
    public void The_platform_is_the_seed_s_port_0x64_reads_1_and_pc_devices_are_absent()
    {
        var script = new GuestDriverScript();
        int keyboard = script.In(0x64, 1);
        int keyboardWide = script.In(0x64, 4);
        int uart = script.In(0x3fd, 1);
        int cmos = script.In(0x71, 1);
        int acpi = script.In(0x604, 2);
        script.Out(0x604, 2, 0x2000);   // the PC's power-off does nothing here
        script.Out(0x64, 1, 0xfe);      // nor does the 8042's reset pulse
        script.Out(0xcf9, 1, 0x06);     // nor the reset control register

        TestMachine.Result run = TestMachine.RunOnLguest(script, []);
        Assert.That(run.Exit, Is.EqualTo(new GuestExit(GuestExitKind.Failed, TestMachine.EndOfScript)), "the guest ran on to its end");
        Assert.That(new[] { run.Loads[keyboard], run.Loads[keyboardWide], run.Loads[uart], run.Loads[cmos], run.Loads[acpi] },
            Is.EqualTo(new uint[] { 1, 1, 0xff, 0xff, 0xffff }));
    }

    [Test]
    public void A_virtio_device_reaches_driver_ok_and_its_used_buffer_comes_back_as_lhreq_irq_on_its_line()
    {
        uint bar = TestMachine.FirstBar(TestMachine.Backend.Lguest);
        var script = new GuestDriverScript();
        var driver = new VirtioDriver(script, bar);
        driver.BringUp(8, Descriptors, DriverArea, DeviceArea);
        int status = driver.ReadStatus();
        script.Descriptor(Descriptors, 0, Buffer, 16, flags: 2 /* VRING_DESC_F_WRITE */).Publish(DriverArea, 0, 0, 1);
        driver.Notify(0);

        TestMachine.Result run = TestMachine.RunOnLguest(script, [Rng()], end: host =>
        {
            // vp_interrupt: the guest halts until the interrupt, then reads the ISR, then looks at the used ring.
            host.WaitForInterrupt();
            LguestScriptGuest.Play(IsrRead(bar), host);
            host.Peek(DeviceArea, 16).Peek(Buffer, 16).Die("end");
        });

        Assert.That(run.Exit.Message, Is.EqualTo("end"));
        LguestHostSimulator host = run.Host!;
        Assert.That(run.Loads[status], Is.EqualTo(VirtioDriver.DriverOk));
        Assert.That(host.Irqs, Is.EqualTo(new[] { 1u }), "one LHREQ_IRQ, on the device's interrupt 1");
        Assert.That(run.Loads[^1], Is.EqualTo(VirtioPciCommonConfig.IsrQueue), "the ISR said: a used buffer");
        byte[] used = host.Peeks[0];
        Assert.That((BinaryPrimitives.ReadUInt16LittleEndian(used.AsSpan(2)), BinaryPrimitives.ReadUInt32LittleEndian(used.AsSpan(4)),
            BinaryPrimitives.ReadUInt32LittleEndian(used.AsSpan(8))), Is.EqualTo(((ushort)1, 0u, 16u)), "used.idx 1, element {id 0, len 16}");
        Assert.That(host.Peeks[1], Has.Some.Not.Zero, "the entropy landed in the buffer");
    }

    [Test]
    public void A_guest_that_dies_ends_the_run_with_the_host_s_reason()
    {
        (GuestExit exit, _, _) = Boot(_ => new LguestHostSimulator().Die("CRASH: guest panic\nat somewhere"));
        Assert.That(exit, Is.EqualTo(new GuestExit(GuestExitKind.Failed, "CRASH: guest panic?at somewhere")));
        Assert.That(exit.IsClean, Is.False);
    }

    [Test]
    public void A_reboot_builds_the_machine_again_with_the_same_arguments_on_a_fresh_dev_lguest()
    {
        uint bar = (uint)KernelRam;
        (GuestExit exit, LguestHostSimulator[] hosts, KernelBootImage image) = Boot(boot =>
        {
            var host = new LguestHostSimulator();
            var script = new GuestDriverScript();
            var driver = new VirtioDriver(script, bar);
            if (boot == 0)
            {
                driver.BringUp(8, Descriptors, DriverArea, DeviceArea);
                LguestScriptGuest.Play(script, host);
                return host.Peek(0x1000, 64).Restart();
            }
            driver.ReadStatus();
            LguestScriptGuest.Play(script, host);
            return host.Peek(0x1000, 64).Die("second boot ends");
        }, noReboot: false, commandLine: "quiet", devices: Rng());

        Assert.That(exit, Is.EqualTo(new GuestExit(GuestExitKind.Failed, "second boot ends")));
        Assert.That(hosts, Has.Length.EqualTo(2), "each boot opened /dev/lguest anew (one guest per open file)");
        Assert.That(hosts.All(h => h.Disposed), Is.True, "and closed it when the boot ended");
        Assert.That(hosts[1].Initialized!.Value with { Item1 = 0 }, Is.EqualTo(hosts[0].Initialized!.Value with { Item1 = 0 }),
            "pfnlimit, start and device_limit as on the first boot");
        Assert.That(hosts.Select(h => Encoding.ASCII.GetString(h.Peeks[0]).Split('\0')[0]), Is.EqualTo(new[] { "quiet", "quiet" }));
        Assert.That(hosts[1].Loads.Single(), Is.Zero, "the second boot's device starts from reset");
        Assert.That(image.Loaded, Is.Not.Null);
    }

    [Test]
    public void A_reboot_under_no_reboot_ends_the_run_cleanly()
    {
        (GuestExit exit, LguestHostSimulator[] hosts, _) = Boot(_ => new LguestHostSimulator().Restart(), noReboot: true);
        Assert.That(exit.Kind, Is.EqualTo(GuestExitKind.Reset));
        Assert.That(exit.IsClean, Is.True);
        Assert.That(hosts, Has.Length.EqualTo(1));
    }

    [Test]
    public void Confinement_runs_once_after_every_host_resource_is_open_and_before_the_guest_runs()
    {
        var hosts = new List<LguestHostSimulator>();
        var seen = new List<(bool Initialized, int Runs, int Opens)>();
        using var hypervisor = new LguestHypervisor(() =>
        {
            var host = hosts.Count == 0 ? new LguestHostSimulator().Restart() : new LguestHostSimulator().Die("second boot ends");
            hosts.Add(host);
            return host;
        });
        using var image = new KernelBootImage(_kernel);
        var options = new LauncherOptions
        {
            MemoryBytes = KernelRam,
            BeforeFirstRun = () => seen.Add((hosts[0].Initialized is not null, hosts[0].RunSnapshots.Count, hosts.Count)),
        };
        using var launcher = new Launcher(hypervisor, image, options, [Rng()], profile: MachineProfile.Lguest);
        GuestExit exit = launcher.Run();
        Assert.That(exit.Message, Is.EqualTo("second boot ends"), "the reboot happened");
        Assert.That(seen, Is.EqualTo(new[] { (true, 0, 1) }), "once, with the guest initialized (memory, device, kernel loaded) and not yet run");
    }

    [Test]
    public void A_failed_confinement_ends_the_run_before_the_guest_runs()
    {
        var host = new LguestHostSimulator().Die("never");
        using var hypervisor = new LguestHypervisor(() => host);
        using var image = new KernelBootImage(_kernel);
        var options = new LauncherOptions { MemoryBytes = KernelRam, BeforeFirstRun = () => ProcessConfinement.ChangeRoot("/nonexistent/lguest-root") };
        using var launcher = new Launcher(hypervisor, image, options, profile: MachineProfile.Lguest);
        Assert.That(() => launcher.Run(), Throws.TypeOf<ConfinementException>().With.Message.StartsWith("chroot(\"/nonexistent/lguest-root\") failed: "));
        Assert.That(host.RunSnapshots, Is.Empty, "the guest never ran");
        Assert.That(host.Disposed, Is.True, "and its machine was torn down");
    }

    [Test]
    public void The_lguest_machine_refuses_a_second_vcpu()
    {
        using var hypervisor = new LguestHypervisor(() => new LguestHostSimulator());
        Assert.That(() => new Launcher(hypervisor, new TestMachine.EntryImage(null), new LauncherOptions { CpuCount = 2 }, profile: MachineProfile.Lguest),
            Throws.ArgumentException.With.Message.Contains("lguest machine has at most 1 vCPU"));
    }

    private static GuestDriverScript IsrRead(uint bar)
    {
        var script = new GuestDriverScript();
        script.Load(bar + VirtioPciTransport.IsrOffset, 1);
        return script;
    }
}
