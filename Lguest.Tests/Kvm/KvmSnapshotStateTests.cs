using System.Buffers.Binary;
using Lguest.Hypervisor;
using Lguest.Kvm;
using Lguest.Memory;
using Lguest.Snapshot;
using Lguest.Tests.Support;

namespace Lguest.Tests.Kvm;

/// <summary>
/// vCPU and VM state captured on this host's KVM and restored into a fresh VM: a guest that runs on timer
/// interrupts, SSE, an MSR and a debug register reports the same values whether or not it was moved part way.
/// </summary>
[Category("Kvm")]
public class KvmSnapshotStateTests
{
    private const int TotalEvents = ClockworkGuest.Stages * ClockworkGuest.EventsPerStage;

    /// <summary>How long a run may take before the test calls it hung (a timer that never ticks again).</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private KvmHypervisor _kvm = null!;
    private readonly List<IDisposable> _owned = [];

    [SetUp]
    public void SetUp() => _kvm = KvmHost.OpenOrIgnore(inKernelIrqchip: true);

    [TearDown]
    public void TearDown()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            _owned[i].Dispose();
        _owned.Clear();
        _kvm?.Dispose();
    }

    [Test]
    public void A_guest_moved_to_a_fresh_vm_part_way_reports_what_an_unmoved_one_does()
    {
        List<uint> reference = RunToEnd(NewGuest(), []);
        Assert.That(reference, Has.Count.EqualTo(TotalEvents));

        (IVirtualMachine vm, IVcpu vcpu, GuestMemory memory) = NewGuest();
        // Stopped on stage 5's read: KVM stores the answer in EAX only when the vCPU enters KVM_RUN again, which
        // the capture must do first, or the restored guest reads the port a second time.
        List<uint> moved = Run(vcpu, [], until: 5 * ClockworkGuest.EventsPerStage + 1);
        BackendState vcpuState = vcpu.CaptureState();
        BackendState vmState = vm.CaptureState();
        byte[] ram = memory.GetSpan(GuestAddress.Zero, (int)memory.Layout.TotalSize).ToArray();
        vcpu.Dispose();
        vm.Dispose();

        _kvm.CheckRestorable(vcpuState);
        (IVirtualMachine vm2, GuestMemory memory2) = NewVm();
        memory2.Write(GuestAddress.Zero, ram);
        IVcpu vcpu2 = Own(vm2.CreateVcpu(0, boot: null));
        vcpu2.RestoreState(vcpuState);
        vm2.RestoreState(vmState);
        RunToEnd((vm2, vcpu2, memory2), moved);

        Assert.That(moved, Is.EqualTo(reference));
    }

    [Test]
    public void Captured_state_names_every_piece_kvm_keeps()
    {
        (IVirtualMachine vm, IVcpu vcpu, _) = NewGuest();
        Run(vcpu, [], until: ClockworkGuest.EventsPerStage);
        BackendState state = vcpu.CaptureState();
        Assert.That(state.Backend, Is.EqualTo("kvm"));
        Assert.That(state.Sections.Select(s => s.Name), Is.SupersetOf(new[]
        {
            "cpuid", "mp-state", "regs", "sregs", "debugregs", "lapic", "msrs", "events",
        }));
        Assert.That(state.Sections.Select(s => s.Name), Has.Some.EqualTo("xsave").Or.Some.EqualTo("fpu"));
        Assert.That(vm.CaptureState().Sections.Select(s => s.Name), Is.EqualTo(new[] { "pic-master", "pic-slave", "ioapic", "pit2", "clock" }));

        byte[] msrs = state.Sections.Single(s => s.Name == "msrs").Data.ToArray();
        var indices = Enumerable.Range(0, msrs.Length / 16).Select(i => BinaryPrimitives.ReadUInt32LittleEndian(msrs.AsSpan(i * 16))).ToList();
        Assert.That(indices, Does.Contain(0x10u).And.Contain(0x175u), "MSR_IA32_TSC and the guest's MSR_IA32_SYSENTER_ESP are kept");
    }

    [Test]
    public void The_capture_completes_the_read_the_vcpu_stopped_on_so_the_guest_does_not_repeat_it()
    {
        (_, IVcpu vcpu, _) = NewGuest();
        List<uint> events = Run(vcpu, [], until: 1); // the first stage's read, answered
        BackendState first = vcpu.CaptureState();
        BackendState again = vcpu.CaptureState();
        ulong Rip(BackendState s) => BinaryPrimitives.ReadUInt64LittleEndian(s.Sections.Single(x => x.Name == "regs").Data.Span[128..]);
        ulong Rax(BackendState s) => BinaryPrimitives.ReadUInt64LittleEndian(s.Sections.Single(x => x.Name == "regs").Data.Span);
        Assert.That(Rax(first), Is.EqualTo(events[0]), "the answer reached EAX");
        Assert.That((Rip(again), Rax(again)), Is.EqualTo((Rip(first), Rax(first))), "the second capture ran nothing");
        Run(vcpu, events, until: 2);
        Assert.That(events[1], Is.EqualTo(0u), "the next access is stage 0's first report (EDI = 0), not the read again");
    }

    [Test]
    public void A_section_of_the_wrong_size_is_refused_before_anything_is_set()
    {
        (_, IVcpu vcpu, _) = NewGuest();
        Run(vcpu, [], until: 1);
        BackendState state = vcpu.CaptureState();
        var damaged = new BackendState(state.Backend, state.Sections.Select(s => s.Name == "sregs" ? s with { Data = s.Data[..^1] } : s));
        (IVirtualMachine vm2, _) = NewVm();
        IVcpu vcpu2 = Own(vm2.CreateVcpu(0, boot: null));
        var error = Assert.Throws<SnapshotException>(() => vcpu2.RestoreState(damaged))!;
        Assert.That((error.Reason, error.Message), Is.EqualTo((SnapshotRefusal.Corrupt, "vCPU 0: section 'sregs' is 311 bytes, not 312")));
    }

    [Test]
    public void A_snapshot_whose_guest_used_a_feature_this_host_lacks_is_refused_with_the_feature_named()
    {
        (_, IVcpu vcpu, _) = NewGuest();
        Run(vcpu, [], until: 1);
        BackendState state = vcpu.CaptureState();
        // Claim leaf 7's EBX bit 16 (avx512f) for the guest where this host's KVM lacks it, or otherwise a bit nobody has.
        KvmCpuidEntry2[] supported = _kvm.SupportedCpuid.ToArray();
        uint hostEbx = supported.FirstOrDefault(e => e.Function == 7 && e.Index == 0).Ebx;
        int bit = (hostEbx & (1u << 16)) == 0 ? 16 : 22; // bit 22 of CPUID.7.0:EBX is reserved
        byte[] cpuid = state.Sections.Single(s => s.Name == "cpuid").Data.ToArray();
        var entries = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, KvmCpuidEntry2>(cpuid.AsSpan());
        for (int i = 0; i < entries.Length; i++)
        {
            if (entries[i].Function == 7 && entries[i].Index == 0)
                entries[i].Ebx |= 1u << bit;
        }
        var forged = new BackendState(state.Backend, state.Sections.Select(s => s.Name == "cpuid" ? s with { Data = cpuid } : s));
        var error = Assert.Throws<SnapshotException>(() => _kvm.CheckRestorable(forged))!;
        Assert.That(error.Reason, Is.EqualTo(SnapshotRefusal.Incompatible));
        Assert.That(error.Message, Does.Contain(bit == 16 ? "avx512f (CPUID.(EAX=0x7,ECX=0):EBX[16])" : "CPUID.(EAX=0x7,ECX=0):EBX[22]"));
        Assert.DoesNotThrow(() => _kvm.CheckRestorable(state), "the unforged state restores here");
    }

    private (IVirtualMachine Vm, GuestMemory Memory) NewVm()
    {
        GuestMemory memory = Own(GuestMemory.Allocate(GuestMemoryLayout.Flat(16 << 20)));
        IVirtualMachine vm = Own(_kvm.CreateVirtualMachine(memory, new IoBus("pio"), new IoBus("mmio")));
        return (vm, memory);
    }

    private (IVirtualMachine Vm, IVcpu Vcpu, GuestMemory Memory) NewGuest()
    {
        (IVirtualMachine vm, GuestMemory memory) = NewVm();
        ClockworkGuest.Load(memory);
        IVcpu vcpu = Own(vm.CreateVcpu(0, new BootState(BootCpuMode.Pvh, ClockworkGuest.Entry, GuestAddress.Zero)));
        return (vm, vcpu, memory);
    }

    private T Own<T>(T disposable) where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private static List<uint> RunToEnd((IVirtualMachine Vm, IVcpu Vcpu, GuestMemory Memory) guest, List<uint> events) =>
        Run(guest.Vcpu, events, TotalEvents);

    // Runs the vCPU until `until` events in all: the guest's reports, and the answers to its reads (0xA000_0000
    // plus the number of reads before); fails on a hang or another exit. Returns right after the last event's exit.
    private static List<uint> Run(IVcpu vcpu, List<uint> reports, int until)
    {
        using var watchdog = new Timer(_ => vcpu.RequestExit(), null, Patience, Timeout.InfiniteTimeSpan);
        while (reports.Count < until)
        {
            VcpuExit exit = vcpu.Run();
            switch (exit.Reason)
            {
                case VcpuExitReason.IoOut when exit.Address == ClockworkGuest.ReportPort && exit.Data.Length == 4:
                    reports.Add(BinaryPrimitives.ReadUInt32LittleEndian(exit.Data));
                    break;
                case VcpuExitReason.IoOut:
                    break; // the PIC and PIT are in the kernel; nothing else is expected, and nothing else matters
                case VcpuExitReason.IoIn when exit.Address == ClockworkGuest.InputPort && exit.Data.Length == 4:
                    uint answer = 0xA000_0000u + (uint)(reports.Count / ClockworkGuest.EventsPerStage);
                    BinaryPrimitives.WriteUInt32LittleEndian(exit.Data, answer);
                    reports.Add(answer);
                    break;
                case VcpuExitReason.Interrupted:
                    Assert.Fail($"the guest hung after {reports.Count} reports (its timer stopped?)");
                    break;
                default:
                    Assert.Fail($"unexpected exit {exit.Reason} ({exit.Detail}) after {reports.Count} reports");
                    break;
            }
        }
        return reports;
    }
}
