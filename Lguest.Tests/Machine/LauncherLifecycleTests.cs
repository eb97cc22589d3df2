using Lguest.DevLguest;
using Lguest.Devices;
using Lguest.Hypervisor;
using Lguest.Machine;
using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Tests.Machine;

/// <summary>
/// The launcher as an embedder drives it, on the /dev/lguest backend played by the Host simulator: its states and
/// events, a stop that comes before the run or between reboots, RunAsync with cancellation, one run per launcher,
/// and a host that cannot run guests failing where the machine starts.
/// </summary>
public class LauncherLifecycleTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(1);

    /// <summary>A launcher whose n-th boot plays the n-th script, recording every event.</summary>
    private sealed class Recorded : IDisposable
    {
        private readonly LguestHypervisor _hypervisor;

        public Recorded(Func<int, LguestHostSimulator> scriptOfBoot, bool noReboot = true, IEnumerable<IPlatformDeviceFactory>? devices = null)
        {
            _hypervisor = new LguestHypervisor(() => scriptOfBoot(Interlocked.Increment(ref Opens)));
            Launcher = new Launcher(_hypervisor, Image, new LauncherOptions { MemoryBytes = TestMachine.RamBytes, NoReboot = noReboot },
                devices, profile: MachineProfile.Lguest);
            Launcher.StateChanged += (_, e) => Add($"{e.Previous}->{e.State}");
            Launcher.Booted += (_, e) => Add($"booted {e.Boot}");
            Launcher.Exited += (_, e) => Add($"exited {e.Exit.Kind}");
            Launcher.DeviceNeedsReset += (_, e) => Add($"needs reset {e.Device} bad driver {e.IsBadDriver}");
        }

        public int Opens;

        public TestMachine.EntryImage Image { get; } = new(null);

        public Launcher Launcher { get; }

        public List<string> Events { get; } = [];

        public void Add(string e)
        {
            lock (Events)
                Events.Add(e);
        }

        public void Dispose()
        {
            Launcher.Dispose();
            _hypervisor.Dispose();
        }
    }

    [Test]
    public void A_run_goes_from_configured_through_booting_and_running_to_stopped_with_its_events()
    {
        using var run = new Recorded(_ => new LguestHostSimulator().Die("the end"));
        Assert.That(run.Launcher.State, Is.EqualTo(MachineState.Configured));
        GuestExit exit = run.Launcher.Run();
        Assert.That(exit, Is.EqualTo(new GuestExit(GuestExitKind.Failed, "the end")));
        Assert.That(run.Events, Is.EqualTo(new[] { "Configured->Booting", "Booting->Running", "booted 1", "Running->Stopped", "exited Failed" }));
        Assert.That((run.Launcher.State, run.Launcher.Exit), Is.EqualTo((MachineState.Stopped, exit)));
    }

    [Test]
    public void A_reboot_goes_back_to_booting_and_raises_booted_again()
    {
        using var run = new Recorded(n => n == 1 ? new LguestHostSimulator().Restart() : new LguestHostSimulator().Die("second boot over"), noReboot: false);
        GuestExit exit = run.Launcher.Run();
        Assert.That(exit.Message, Is.EqualTo("second boot over"));
        Assert.That(run.Events, Is.EqualTo(new[]
        {
            "Configured->Booting", "Booting->Running", "booted 1", "Running->Booting", "Booting->Running", "booted 2", "Running->Stopped", "exited Failed",
        }));
    }

    [Test]
    public void A_stop_before_the_run_ends_it_at_once_without_opening_the_backend_or_loading_the_image()
    {
        using var run = new Recorded(_ => throw new AssertionException("the backend was opened"));
        run.Launcher.Stop("not today");
        GuestExit exit = run.Launcher.Run();
        Assert.That(exit, Is.EqualTo(new GuestExit(GuestExitKind.Stopped, "not today")));
        Assert.That((run.Image.Boots, run.Opens), Is.EqualTo((0, 0)));
        Assert.That(run.Events, Is.EqualTo(new[] { "Configured->Stopped", "exited Stopped" }));
    }

    [Test]
    public void A_cancelled_token_before_the_run_ends_it_at_once()
    {
        using var run = new Recorded(_ => throw new AssertionException("the backend was opened"));
        GuestExit exit = run.Launcher.Run(new CancellationToken(canceled: true));
        Assert.That((exit.Kind, run.Image.Boots), Is.EqualTo((GuestExitKind.Stopped, 0)));
    }

    [Test]
    public void A_stop_between_two_boots_is_not_lost_the_reboot_never_runs()
    {
        Recorded? recorded = null;
        using var run = recorded = new Recorded(n => n == 1 ? new LguestHostSimulator().Restart() : new LguestHostSimulator().BlockUntilKicked(), noReboot: false);
        run.Launcher.StateChanged += (_, e) =>
        {
            // The first boot has ended and asked for a reset; the second is about to be built.
            if (e.Previous == MachineState.Running && e.State == MachineState.Booting)
                recorded.Launcher.Stop("stopped during the reboot");
        };
        Task<GuestExit> exit = run.Launcher.RunAsync();
        Assert.That(exit.Wait(Patience), Is.True, "the second boot ran until kicked: the stop was lost");
        Assert.That(exit.Result, Is.EqualTo(new GuestExit(GuestExitKind.Stopped, "stopped during the reboot")));
        Assert.That(run.Events.Count(e => e.StartsWith("booted", StringComparison.Ordinal)), Is.EqualTo(1), "the second boot's vCPUs never entered the guest");
    }

    [Test]
    public void RunAsync_runs_on_its_own_thread_and_cancelling_stops_the_guest()
    {
        using var run = new Recorded(_ => new LguestHostSimulator().BlockUntilKicked());
        using var booted = new ManualResetEventSlim();
        run.Launcher.Booted += (_, _) => booted.Set();
        using var cancel = new CancellationTokenSource();
        Task<GuestExit> exit = run.Launcher.RunAsync(cancel.Token);
        Assert.That(booted.Wait(Patience), Is.True);
        Assert.That(exit.IsCompleted, Is.False, "the guest runs until stopped");
        cancel.Cancel();
        Assert.That(exit.Wait(Patience), Is.True);
        Assert.That((exit.Result.Kind, exit.Result.Message, run.Launcher.State), Is.EqualTo((GuestExitKind.Stopped, "stopped by the host", MachineState.Stopped)));
    }

    [Test]
    public void A_launcher_runs_its_machine_once()
    {
        using var run = new Recorded(_ => new LguestHostSimulator().Die("the end"));
        run.Launcher.Run();
        Assert.That(() => run.Launcher.Run(), Throws.InvalidOperationException.With.Message.Contains("already ran"));
    }

    [Test]
    public void A_handler_that_throws_does_not_reach_the_machine()
    {
        using var run = new Recorded(_ => new LguestHostSimulator().Die("the end"));
        run.Launcher.Booted += (_, _) => throw new InvalidOperationException("the embedder's bug");
        Assert.That(run.Launcher.Run().Message, Is.EqualTo("the end"));
    }

    [Test]
    public void A_bad_driver_raises_device_needs_reset_and_the_guest_runs_on()
    {
        var script = new GuestDriverScript();
        new VirtioDriver(script, TestMachine.FirstBar(TestMachine.Backend.Lguest)).Common(VirtioPciCommonConfig.QueueNotifyOff, 2, 1);
        using var run = new Recorded(_ =>
        {
            var host = new LguestHostSimulator();
            LguestScriptGuest.Play(script, host);
            return host.Die("the end");
        }, devices: [TestMachine.Device(s => s.AddVirtioRng(o => o.QueueSize = 8))]);
        Assert.That(run.Launcher.Run().Message, Is.EqualTo("the end"));
        Assert.That(run.Events, Does.Contain("needs reset rng bad driver True"));
    }

    [Test]
    public void Without_the_device_the_container_still_builds_the_launcher_and_the_run_says_why_with_the_reason_as_data()
    {
        var services = new ServiceCollection()
            .AddKvm(o => o.DevicePath = "/nonexistent/kvm")
            .AddLguest(o => o.MemoryBytes = 16 << 20)
            .AddSingleton<IBootImage>(new TestMachine.EntryImage(null));
        using ServiceProvider provider = services.BuildServiceProvider();
        Launcher launcher = provider.GetRequiredService<Launcher>();
        var e = Assert.Throws<HostUnavailableException>(() => launcher.Run());
        Assert.That((e!.Backend, e.DevicePath, e.Reason), Is.EqualTo(("kvm", "/nonexistent/kvm", HostUnavailableReason.DeviceMissing)));
        Assert.That(e.Message, Does.StartWith("cannot open /nonexistent/kvm: no such device"));
        Assert.That(launcher.State, Is.EqualTo(MachineState.Stopped));
        Assert.That(() => launcher.RunAsync().GetAwaiter().GetResult(), Throws.InvalidOperationException, "one run per launcher");
    }

    [Test]
    public void A_forced_dev_lguest_on_a_host_without_it_fails_at_the_run_not_in_the_container()
    {
        using ServiceProvider provider = new ServiceCollection()
            .AddDevLguest("/nonexistent/lguest")
            .AddLguest(o => o.MemoryBytes = 16 << 20)
            .AddSingleton<IBootImage>(new TestMachine.EntryImage(null))
            .BuildServiceProvider();
        Launcher launcher = provider.GetRequiredService<Launcher>();
        Assert.That(launcher.Profile, Is.SameAs(MachineProfile.Lguest));
        Assert.That(async () => await launcher.RunAsync(), Throws.TypeOf<HostUnavailableException>()
            .With.Property(nameof(HostUnavailableException.Reason)).EqualTo(HostUnavailableReason.DeviceMissing));
    }

    [Test]
    public void The_automatic_choice_takes_kvm_where_dev_lguest_does_not_open_and_is_the_default()
    {
        if (File.Exists(LguestHypervisor.DefaultDevicePath))
            Assert.Ignore("this host has /dev/lguest");
        using HypervisorBackend chosen = HypervisorBackend.Choose(HypervisorKind.Auto);
        Assert.That((chosen.Name, chosen.Profile), Is.EqualTo(("kvm", MachineProfile.Pc)));
        using ServiceProvider provider = new ServiceCollection().AddLguest().AddKernel("/nonexistent/vmlinuz").BuildServiceProvider();
        Assert.That(provider.GetRequiredService<HypervisorBackend>().Name, Is.EqualTo("kvm"));
        Assert.That(provider.GetRequiredService<IBootImage>(), Is.TypeOf<KernelBootImage>().With.Property(nameof(KernelBootImage.KernelPath)).EqualTo("/nonexistent/vmlinuz"));
    }

    [Test]
    public void A_backend_registered_after_AddLguest_wins_over_the_automatic_default()
    {
        using ServiceProvider provider = new ServiceCollection().AddLguest().AddDevLguest("/nonexistent/lguest").BuildServiceProvider();
        Assert.That(provider.GetRequiredService<HypervisorBackend>().Profile, Is.SameAs(MachineProfile.Lguest));
    }
}
