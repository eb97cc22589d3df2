using Lguest.DevLguest;
using Lguest.Machine;
using Lguest.Tests.Support;

namespace Lguest.Tests.Machine;

/// <summary>
/// Pause and resume as an embedder drives them, on the /dev/lguest backend played by the Host simulator: the vCPU
/// leaves the guest and stays out while paused, the states and events, the refusals in the wrong state, and a stop
/// or a shutdown request while paused.
/// </summary>
public class LauncherPauseTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(1);

    private sealed class Running : IDisposable
    {
        private readonly LguestHypervisor _hypervisor;
        private readonly ManualResetEventSlim _booted = new();

        public Running(int steps, IEnumerable<IPlatformDeviceFactory>? devices = null)
        {
            Host = new LguestHostSimulator();
            for (int i = 0; i < steps; i++)
                Host.BlockUntilKicked();
            _hypervisor = new LguestHypervisor(() => Host);
            Launcher = new Launcher(_hypervisor, new TestMachine.EntryImage(null),
                new LauncherOptions { MemoryBytes = TestMachine.RamBytes, NoReboot = true }, devices, profile: MachineProfile.Lguest);
            Launcher.StateChanged += (_, e) =>
            {
                lock (Events)
                    Events.Add($"{e.Previous}->{e.State}");
            };
            Launcher.Booted += (_, _) => _booted.Set();
            Exit = Launcher.RunAsync();
            Assert.That(_booted.Wait(Patience), Is.True, "the guest booted");
        }

        public LguestHostSimulator Host { get; }

        public Launcher Launcher { get; }

        public Task<GuestExit> Exit { get; }

        public List<string> Events { get; } = [];

        /// <summary>Waits until the vCPU has entered the guest for the step before <paramref name="remaining"/> steps are left.</summary>
        public void WaitForRemaining(int remaining) =>
            Assert.That(SpinWait.SpinUntil(() => Host.Remaining <= remaining, Patience), Is.True, $"the vCPU took steps down to {remaining}");

        public void Dispose()
        {
            Launcher.Stop();
            Exit.Wait(Patience);
            Launcher.Dispose();
            _hypervisor.Dispose();
            _booted.Dispose();
        }
    }

    [Test]
    public async Task A_paused_vcpu_stays_out_of_the_guest_until_resumed()
    {
        using var run = new Running(steps: 4);
        run.WaitForRemaining(3); // in the guest, blocked in the first step
        await run.Launcher.PauseAsync();
        Assert.That(run.Launcher.State, Is.EqualTo(MachineState.Paused));
        int remaining = run.Host.Remaining;
        Thread.Sleep(300);
        Assert.That(run.Host.Remaining, Is.EqualTo(remaining), "a paused vCPU does not enter the guest");

        await run.Launcher.ResumeAsync();
        Assert.That(run.Launcher.State, Is.EqualTo(MachineState.Running));
        run.WaitForRemaining(remaining - 1);
        Assert.That(run.Events, Is.EqualTo(new[] { "Configured->Booting", "Booting->Running", "Running->Paused", "Paused->Running" }));
    }

    [Test]
    public async Task Pausing_and_resuming_many_times_keeps_the_guest_running()
    {
        using var run = new Running(steps: 30);
        for (int i = 0; i < 10; i++)
        {
            await run.Launcher.PauseAsync();
            await run.Launcher.ResumeAsync();
        }
        Assert.That((run.Launcher.State, run.Exit.IsCompleted), Is.EqualTo((MachineState.Running, false)));
    }

    [Test]
    public async Task Each_operation_in_the_wrong_state_is_refused_and_changes_nothing()
    {
        using var run = new Running(steps: 4);
        Assert.That(async () => await run.Launcher.ResumeAsync(), Throws.TypeOf<MachineStateException>()
            .With.Message.EqualTo("cannot resume: the machine is not paused (Running)"));
        await run.Launcher.PauseAsync();
        Assert.That(async () => await run.Launcher.PauseAsync(), Throws.TypeOf<MachineStateException>()
            .With.Message.EqualTo("cannot pause: the machine is not running (Paused)")
            .And.Property(nameof(MachineStateException.State)).EqualTo(MachineState.Paused));
        Assert.That(() => run.Launcher.RequestShutdown(), Throws.TypeOf<MachineStateException>()
            .With.Message.EqualTo("cannot request a shutdown: the lguest machine has no power button"));
        Assert.That(run.Launcher.State, Is.EqualTo(MachineState.Paused));
    }

    [Test]
    public void Pausing_a_machine_that_never_ran_is_refused()
    {
        using var launcher = new Launcher(new LguestHypervisor(() => new LguestHostSimulator()), new TestMachine.EntryImage(null),
            new LauncherOptions { MemoryBytes = TestMachine.RamBytes }, profile: MachineProfile.Lguest);
        Assert.That(async () => await launcher.PauseAsync(), Throws.TypeOf<MachineStateException>()
            .With.Message.EqualTo("cannot pause: the machine is not running (Configured)"));
    }

    [Test]
    public async Task A_stop_while_paused_ends_the_run()
    {
        using var run = new Running(steps: 4);
        await run.Launcher.PauseAsync();
        run.Launcher.Stop("stopped while paused");
        Assert.That(run.Exit.Wait(Patience), Is.True);
        Assert.That((run.Exit.Result.Message, run.Launcher.State), Is.EqualTo(("stopped while paused", MachineState.Stopped)));
        Assert.That(run.Events[^1], Is.EqualTo("Paused->Stopped"));
    }
}
