using Lguest.DevLguest;
using Lguest.Hypervisor;
using Lguest.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Lguest.Tests.DevLguest;

/// <summary>How a run ends: the guest's death (ENOENT and its reason), a reboot (ERESTART), a kick (EINTR).</summary>
public class LguestRunTests
{
    [Test]
    public void A_dead_guest_ends_the_run_as_failed_with_the_hosts_reason()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator().Die("CRASH: Power down"));
        LguestTestBed.Exit exit = bed.Step();
        Assert.That(exit.Reason, Is.EqualTo(VcpuExitReason.Failed));
        Assert.That(exit.Detail, Is.EqualTo("CRASH: Power down"));
    }

    [Test]
    public void Running_a_dead_guest_again_repeats_its_end_without_asking_the_host()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator().Die("bad hypercall"));
        bed.Step();
        int requests = bed.Host.Requests.Count;
        LguestTestBed.Exit again = bed.Step();
        Assert.That((again.Reason, again.Detail), Is.EqualTo((VcpuExitReason.Failed, "bad hypercall")));
        Assert.That(bed.Host.Requests, Has.Count.EqualTo(requests));
    }

    [Test]
    public void Control_characters_in_a_death_reason_are_masked()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator().Die("CRASH: \u001b[2Jgone\r\n"));
        Assert.That(bed.Step().Detail, Is.EqualTo("CRASH: ?[2Jgone??"));
    }

    [Test]
    public void A_reboot_request_ends_the_run_with_a_reset()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator().Restart());
        Assert.That(bed.Step().Reason, Is.EqualTo(VcpuExitReason.Reset));
        Assert.That(bed.Step().Reason, Is.EqualTo(VcpuExitReason.Reset), "the guest is gone: a new machine must boot it");
    }

    [Test]
    public void A_trap_other_than_13_or_14_fails_the_run_as_the_seed_does()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator().Trap(6, [0x0f, 0x0b, 0x90, 0x90, 0x90, 0x90, 0x90], 0x1234));
        LguestTestBed.Exit exit = bed.Step();
        Assert.That(exit.Reason, Is.EqualTo(VcpuExitReason.Failed));
        Assert.That(exit.Detail, Does.Contain("trap 6"));
    }

    [Test]
    public void Several_traps_run_in_sequence_each_completed_before_the_next()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .PortIo(GuestCode.Insn(a => a.@in(al, 0x71)), (UserRegs.Eax, 0))
            .PortIo(GuestCode.Insn(a => a.@out(0x70, al)))
            .Die("end"));
        bed.PortBus.Register(0x70, 2, new LguestPortIoTests.ValueDevice(0x4242_4242));
        List<LguestTestBed.Exit> exits = bed.RunToEnd();
        Assert.That(exits.Select(e => e.Reason), Is.EqualTo(new[] { VcpuExitReason.IoIn, VcpuExitReason.IoOut, VcpuExitReason.Failed }));
        Assert.That(exits[1].Data, Is.EqualTo(new byte[] { 0x42 }), "the out sends what the in loaded");
        Assert.That(bed.Host[UserRegs.Eip], Is.EqualTo(LguestTestBed.Entry + 4));
    }

    [Test]
    public void A_stop_requested_before_the_run_returns_interrupted_without_running_the_guest()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator().Die("end"));
        IVcpu vcpu = bed.Boot();
        vcpu.RequestExit();
        Assert.That(bed.Step().Reason, Is.EqualTo(VcpuExitReason.Interrupted));
        Assert.That(bed.Host.Remaining, Is.EqualTo(1));
        Assert.That(bed.Step().Reason, Is.EqualTo(VcpuExitReason.Failed), "the request is consumed: the next run runs");
    }

    [Test]
    public void A_stop_requested_while_the_guest_runs_kicks_the_read_until_it_returns_interrupted()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator().BlockUntilKicked().Die("end"));
        IVcpu vcpu = bed.Boot();
        var running = new ManualResetEventSlim();
        VcpuExitReason reason = default;
        var thread = new Thread(() =>
        {
            running.Set();
            reason = bed.Step().Reason;
        });
        thread.Start();
        running.Wait();
        vcpu.RequestExit();
        thread.Join();
        Assert.That(reason, Is.EqualTo(VcpuExitReason.Interrupted));
        Assert.That(bed.Step().Reason, Is.EqualTo(VcpuExitReason.Failed));
    }
}
