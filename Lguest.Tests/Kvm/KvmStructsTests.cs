using System.Runtime.InteropServices;
using Lguest.Interop;
using Lguest.Kvm;
using Lguest.Tests.Support;

namespace Lguest.Tests.Kvm;

/// <summary>Every kernel struct the KVM backend passes, checked against &lt;linux/kvm.h&gt; by the C compiler.</summary>
public class KvmStructsTests
{
    private static readonly List<(string C, Func<ulong> Managed)> Checks = [];

    private static IReadOnlyDictionary<string, ulong>? _c;

    static KvmStructsTests()
    {
        Size<KvmRegs>("struct kvm_regs");
        Fields<KvmRegs>("struct kvm_regs", ("Rax", "rax"), ("Rbx", "rbx"), ("Rcx", "rcx"), ("Rdx", "rdx"), ("Rsi", "rsi"),
            ("Rdi", "rdi"), ("Rsp", "rsp"), ("Rbp", "rbp"), ("R8", "r8"), ("R15", "r15"), ("Rip", "rip"), ("Rflags", "rflags"));
        Size<KvmSegment>("struct kvm_segment");
        Fields<KvmSegment>("struct kvm_segment", ("Base", "base"), ("Limit", "limit"), ("Selector", "selector"), ("Type", "type"),
            ("Present", "present"), ("Dpl", "dpl"), ("Db", "db"), ("S", "s"), ("L", "l"), ("G", "g"), ("Avl", "avl"),
            ("Unusable", "unusable"), ("Padding", "padding"));
        Size<KvmDtable>("struct kvm_dtable");
        Fields<KvmDtable>("struct kvm_dtable", ("Base", "base"), ("Limit", "limit"), ("Padding", "padding"));
        Size<KvmSregs>("struct kvm_sregs");
        Fields<KvmSregs>("struct kvm_sregs", ("Cs", "cs"), ("Ds", "ds"), ("Es", "es"), ("Fs", "fs"), ("Gs", "gs"), ("Ss", "ss"),
            ("Tr", "tr"), ("Ldt", "ldt"), ("Gdt", "gdt"), ("Idt", "idt"), ("Cr0", "cr0"), ("Cr2", "cr2"), ("Cr3", "cr3"),
            ("Cr4", "cr4"), ("Cr8", "cr8"), ("Efer", "efer"), ("ApicBase", "apic_base"), ("InterruptBitmap", "interrupt_bitmap"));
        Size<KvmUserspaceMemoryRegion>("struct kvm_userspace_memory_region");
        Fields<KvmUserspaceMemoryRegion>("struct kvm_userspace_memory_region", ("Slot", "slot"), ("Flags", "flags"),
            ("GuestPhysAddr", "guest_phys_addr"), ("MemorySize", "memory_size"), ("UserspaceAddr", "userspace_addr"));
        Size<KvmCpuid2>("struct kvm_cpuid2");
        Fields<KvmCpuid2>("struct kvm_cpuid2", ("Nent", "nent"), ("Padding", "padding"));
        Checks.Add(("offsetof(struct kvm_cpuid2, entries)", () => (ulong)Marshal.SizeOf<KvmCpuid2>()));
        Size<KvmCpuidEntry2>("struct kvm_cpuid_entry2");
        Fields<KvmCpuidEntry2>("struct kvm_cpuid_entry2", ("Function", "function"), ("Index", "index"), ("Flags", "flags"),
            ("Eax", "eax"), ("Ebx", "ebx"), ("Ecx", "ecx"), ("Edx", "edx"), ("Padding", "padding"));
        Size<KvmMsrs>("struct kvm_msrs");
        Fields<KvmMsrs>("struct kvm_msrs", ("Nmsrs", "nmsrs"), ("Pad", "pad"));
        Checks.Add(("offsetof(struct kvm_msrs, entries)", () => (ulong)Marshal.SizeOf<KvmMsrs>()));
        Size<KvmMsrEntry>("struct kvm_msr_entry");
        Fields<KvmMsrEntry>("struct kvm_msr_entry", ("Index", "index"), ("Reserved", "reserved"), ("Data", "data"));
        Size<KvmPitConfig>("struct kvm_pit_config");
        Fields<KvmPitConfig>("struct kvm_pit_config", ("Flags", "flags"), ("Pad", "pad"));
        Size<KvmIrqLevel>("struct kvm_irq_level");
        Fields<KvmIrqLevel>("struct kvm_irq_level", ("Irq", "irq"), ("Level", "level"));
        Size<KvmIrqfd>("struct kvm_irqfd");
        Fields<KvmIrqfd>("struct kvm_irqfd", ("Fd", "fd"), ("Gsi", "gsi"), ("Flags", "flags"), ("Resamplefd", "resamplefd"), ("Pad", "pad"));
        Size<KvmIoeventfd>("struct kvm_ioeventfd");
        Fields<KvmIoeventfd>("struct kvm_ioeventfd", ("Datamatch", "datamatch"), ("Addr", "addr"), ("Len", "len"), ("Fd", "fd"),
            ("Flags", "flags"), ("Pad", "pad"));
        Size<KvmFpu>("struct kvm_fpu");
        Fields<KvmFpu>("struct kvm_fpu", ("Fpr", "fpr"), ("Fcw", "fcw"), ("Fsw", "fsw"), ("Ftwx", "ftwx"), ("LastOpcode", "last_opcode"),
            ("LastIp", "last_ip"), ("LastDp", "last_dp"), ("Xmm", "xmm"), ("Mxcsr", "mxcsr"));
        Size<KvmLapicState>("struct kvm_lapic_state");
        Size<KvmIrqRouting>("struct kvm_irq_routing");
        Fields<KvmIrqRouting>("struct kvm_irq_routing", ("Nr", "nr"), ("Flags", "flags"));
        Checks.Add(("offsetof(struct kvm_irq_routing, entries)", () => (ulong)Marshal.SizeOf<KvmIrqRouting>()));
        Size<KvmIrqRoutingEntry>("struct kvm_irq_routing_entry");
        Fields<KvmIrqRoutingEntry>("struct kvm_irq_routing_entry", ("Gsi", "gsi"), ("Type", "type"), ("Flags", "flags"), ("Pad", "pad"),
            ("Irqchip", "u.irqchip.irqchip"), ("Pin", "u.irqchip.pin"), ("AddressLo", "u.msi.address_lo"), ("AddressHi", "u.msi.address_hi"),
            ("Data", "u.msi.data"), ("Devid", "u.msi.devid"));
        Fields<KvmSignalMask>("struct kvm_signal_mask", ("Len", "len"), ("Sigset", "sigset"));

        // The snapshot state structs (KvmStateStructs.cs).
        Size<KvmMsrList>("struct kvm_msr_list");
        Checks.Add(("offsetof(struct kvm_msr_list, indices)", () => (ulong)Marshal.SizeOf<KvmMsrList>()));
        Size<KvmXcr>("struct kvm_xcr");
        Fields<KvmXcr>("struct kvm_xcr", ("Xcr", "xcr"), ("Reserved", "reserved"), ("Value", "value"));
        Size<KvmXcrs>("struct kvm_xcrs");
        Fields<KvmXcrs>("struct kvm_xcrs", ("NrXcrs", "nr_xcrs"), ("Flags", "flags"), ("Xcrs", "xcrs"), ("Padding", "padding"));
        Checks.Add(("sizeof(((struct kvm_xcrs *)0)->xcrs)", () => KvmXcrs.MaxXcrs * (ulong)Marshal.SizeOf<KvmXcr>()));
        Size<KvmMpState>("struct kvm_mp_state");
        Size<KvmDebugRegs>("struct kvm_debugregs");
        Fields<KvmDebugRegs>("struct kvm_debugregs", ("Db", "db"), ("Dr6", "dr6"), ("Dr7", "dr7"), ("Flags", "flags"), ("Reserved", "reserved"));
        Size<KvmVcpuEvents>("struct kvm_vcpu_events");
        Fields<KvmVcpuEvents>("struct kvm_vcpu_events", ("ExceptionInjected", "exception.injected"), ("InterruptInjected", "interrupt.injected"),
            ("NmiInjected", "nmi.injected"), ("SipiVector", "sipi_vector"), ("Flags", "flags"), ("Smm", "smi.smm"),
            ("TripleFaultPending", "triple_fault.pending"), ("ExceptionHasPayload", "exception_has_payload"), ("ExceptionPayload", "exception_payload"));
        Size<KvmIrqchip>("struct kvm_irqchip");
        Fields<KvmIrqchip>("struct kvm_irqchip", ("ChipId", "chip_id"), ("Pad", "pad"), ("Chip", "chip"));
        Checks.Add(("sizeof(((struct kvm_irqchip *)0)->chip)", () => KvmIrqchip.ChipSize));
        Size<KvmPitChannelState>("struct kvm_pit_channel_state");
        Fields<KvmPitChannelState>("struct kvm_pit_channel_state", ("Count", "count"), ("LatchedCount", "latched_count"),
            ("CountLatched", "count_latched"), ("StatusLatched", "status_latched"), ("Status", "status"), ("ReadState", "read_state"),
            ("WriteState", "write_state"), ("WriteLatch", "write_latch"), ("RwMode", "rw_mode"), ("Mode", "mode"), ("Bcd", "bcd"),
            ("Gate", "gate"), ("CountLoadTime", "count_load_time"));
        Size<KvmPitState2>("struct kvm_pit_state2");
        Fields<KvmPitState2>("struct kvm_pit_state2", ("Channel0", "channels[0]"), ("Channel1", "channels[1]"), ("Channel2", "channels[2]"),
            ("Flags", "flags"), ("Reserved", "reserved"));
        Size<KvmClockData>("struct kvm_clock_data");
        Fields<KvmClockData>("struct kvm_clock_data", ("Clock", "clock"), ("Flags", "flags"), ("Pad0", "pad0"), ("Realtime", "realtime"),
            ("HostTsc", "host_tsc"), ("Pad", "pad"));
        Checks.Add(("sizeof(struct kvm_xsave)", () => 4096));

        // kvm_run: the head, then each exit struct at the union's offset.
        Fields<KvmRun>("struct kvm_run", ("RequestInterruptWindow", "request_interrupt_window"), ("ImmediateExit", "immediate_exit"),
            ("ExitReason", "exit_reason"), ("ReadyForInterruptInjection", "ready_for_interrupt_injection"), ("IfFlag", "if_flag"),
            ("Flags", "flags"), ("Cr8", "cr8"), ("ApicBase", "apic_base"));
        Checks.Add(("offsetof(struct kvm_run, io)", () => KvmRun.ExitUnionOffset));
        Union<KvmRunIo>("io", ("Direction", "direction"), ("Size", "size"), ("Port", "port"), ("Count", "count"), ("DataOffset", "data_offset"));
        Union<KvmRunMmio>("mmio", ("PhysAddr", "phys_addr"), ("Data", "data"), ("Len", "len"), ("IsWrite", "is_write"));
        Union<KvmRunFailEntry>("fail_entry", ("HardwareEntryFailureReason", "hardware_entry_failure_reason"), ("Cpu", "cpu"));
        Union<KvmRunInternal>("internal", ("Suberror", "suberror"), ("Ndata", "ndata"), ("Data", "data"));
        Union<KvmRunSystemEvent>("system_event", ("Type", "type"), ("Ndata", "ndata"), ("Data", "data"));

        // glibc's signal structs, which the vCPU kick passes.
        Size<Libc.SigSet>("sigset_t");
        Size<Libc.SigAction>("struct sigaction");
        Fields<Libc.SigAction>("struct sigaction", ("Handler", "sa_handler"), ("Mask", "sa_mask"), ("Flags", "sa_flags"), ("Restorer", "sa_restorer"));
        // struct stat, of which Libc.FileIdentity reads st_dev and st_ino.
        Checks.Add(("sizeof(struct stat)", () => Libc.StatSize));
        Checks.Add(("offsetof(struct stat, st_dev)", () => 0));
        Checks.Add(("offsetof(struct stat, st_ino)", () => 8));
    }

    private static void Size<T>(string c) where T : unmanaged => Checks.Add(($"sizeof({c})", () => (ulong)Marshal.SizeOf<T>()));

    private static void Fields<T>(string c, params (string Managed, string C)[] fields) where T : unmanaged
    {
        foreach ((string managed, string cField) in fields)
            Checks.Add(($"offsetof({c}, {cField})", () => (ulong)Marshal.OffsetOf<T>(managed)));
    }

    private static void Union<T>(string member, params (string Managed, string C)[] fields) where T : unmanaged
    {
        foreach ((string managed, string cField) in fields)
            Checks.Add(($"offsetof(struct kvm_run, {member}.{cField})", () => KvmRun.ExitUnionOffset + (ulong)Marshal.OffsetOf<T>(managed)));
    }

    private static IReadOnlyDictionary<string, ulong> C =>
        _c ??= CLayout.Evaluate(["linux/kvm.h", "signal.h", "sys/stat.h"], Checks.Select(c => c.C));

    public static IEnumerable<TestCaseData> Cases() => Checks.Select(c => new TestCaseData(c.C).SetName($"Layout matches the header: {c.C}"));

    [TestCaseSource(nameof(Cases))]
    public void Layout_matches_the_C_header(string expression)
    {
        ulong managed = Checks.First(c => c.C == expression).Managed();
        Assert.That(managed, Is.EqualTo(C[expression]), expression);
    }

    [Test]
    public void Ioctl_numbers_match_the_C_header()
    {
        (string Name, ulong Value)[] numbers =
        [
            ("KVM_GET_API_VERSION", KvmIoctl.GetApiVersion), ("KVM_CREATE_VM", KvmIoctl.CreateVm),
            ("KVM_CHECK_EXTENSION", KvmIoctl.CheckExtension), ("KVM_GET_VCPU_MMAP_SIZE", KvmIoctl.GetVcpuMmapSize),
            ("KVM_GET_SUPPORTED_CPUID", KvmIoctl.GetSupportedCpuid), ("KVM_CREATE_VCPU", KvmIoctl.CreateVcpu),
            ("KVM_SET_USER_MEMORY_REGION", KvmIoctl.SetUserMemoryRegion), ("KVM_SET_TSS_ADDR", KvmIoctl.SetTssAddr),
            ("KVM_SET_IDENTITY_MAP_ADDR", KvmIoctl.SetIdentityMapAddr), ("KVM_CREATE_IRQCHIP", KvmIoctl.CreateIrqchip),
            ("KVM_IRQ_LINE", KvmIoctl.IrqLine), ("KVM_SET_GSI_ROUTING", KvmIoctl.SetGsiRouting),
            ("KVM_IRQ_ROUTING_IRQCHIP", KvmIoctl.IrqRoutingIrqchip), ("KVM_IRQ_ROUTING_MSI", KvmIoctl.IrqRoutingMsi),
            ("KVM_CAP_IRQ_ROUTING", KvmIoctl.CapIrqRouting), ("KVM_IRQFD_FLAG_DEASSIGN", KvmIoctl.IrqfdFlagDeassign), ("KVM_IRQCHIP_IOAPIC", KvmIoctl.IrqchipIoapic),
            ("KVM_IRQCHIP_PIC_SLAVE", KvmIoctl.IrqchipPicSlave), ("KVM_IRQFD", KvmIoctl.Irqfd), ("KVM_CREATE_PIT2", KvmIoctl.CreatePit2),
            ("KVM_IOEVENTFD", KvmIoctl.Ioeventfd), ("KVM_RUN", KvmIoctl.Run), ("KVM_GET_REGS", KvmIoctl.GetRegs),
            ("KVM_SET_REGS", KvmIoctl.SetRegs), ("KVM_GET_SREGS", KvmIoctl.GetSregs), ("KVM_SET_SREGS", KvmIoctl.SetSregs),
            ("KVM_GET_MSRS", KvmIoctl.GetMsrs), ("KVM_SET_MSRS", KvmIoctl.SetMsrs), ("KVM_SET_SIGNAL_MASK", KvmIoctl.SetSignalMask),
            ("KVM_SET_FPU", KvmIoctl.SetFpu), ("KVM_GET_LAPIC", KvmIoctl.GetLapic), ("KVM_SET_LAPIC", KvmIoctl.SetLapic),
            ("KVM_SET_CPUID2", KvmIoctl.SetCpuid2), ("KVM_CAP_IRQCHIP", KvmIoctl.CapIrqchip), ("KVM_CAP_PIT2", KvmIoctl.CapPit2),
            ("KVM_CAP_IRQFD", KvmIoctl.CapIrqfd), ("KVM_CAP_IOEVENTFD", KvmIoctl.CapIoeventfd),
            ("KVM_CAP_IMMEDIATE_EXIT", KvmIoctl.CapImmediateExit), ("KVM_CAP_MAX_VCPUS", KvmIoctl.CapMaxVcpus),
            ("KVM_CAP_SET_IDENTITY_MAP_ADDR", KvmIoctl.CapSetIdentityMapAddr), ("KVM_EXIT_IO", KvmIoctl.ExitIo),
            ("KVM_EXIT_MMIO", KvmIoctl.ExitMmio), ("KVM_EXIT_HLT", KvmIoctl.ExitHlt), ("KVM_EXIT_SHUTDOWN", KvmIoctl.ExitShutdown),
            ("KVM_EXIT_FAIL_ENTRY", KvmIoctl.ExitFailEntry), ("KVM_EXIT_INTR", KvmIoctl.ExitIntr),
            ("KVM_EXIT_INTERNAL_ERROR", KvmIoctl.ExitInternalError), ("KVM_EXIT_SYSTEM_EVENT", KvmIoctl.ExitSystemEvent),
            ("KVM_SYSTEM_EVENT_SHUTDOWN", KvmIoctl.SystemEventShutdown), ("KVM_SYSTEM_EVENT_RESET", KvmIoctl.SystemEventReset),
            ("KVM_PIT_SPEAKER_DUMMY", KvmIoctl.PitSpeakerDummy), ("KVM_IOEVENTFD_FLAG_DEASSIGN", KvmIoctl.IoeventfdFlagDeassign),
            // Snapshots (KvmIoctl.State.cs).
            ("KVM_GET_MSR_INDEX_LIST", KvmIoctl.GetMsrIndexList), ("KVM_GET_MSR_FEATURE_INDEX_LIST", KvmIoctl.GetMsrFeatureIndexList),
            ("KVM_GET_IRQCHIP", KvmIoctl.GetIrqchip), ("KVM_SET_IRQCHIP", KvmIoctl.SetIrqchip), ("KVM_GET_CLOCK", KvmIoctl.GetClock),
            ("KVM_SET_CLOCK", KvmIoctl.SetClock), ("KVM_GET_PIT2", KvmIoctl.GetPit2), ("KVM_SET_PIT2", KvmIoctl.SetPit2),
            ("KVM_GET_FPU", KvmIoctl.GetFpu), ("KVM_GET_CPUID2", KvmIoctl.GetCpuid2), ("KVM_GET_MP_STATE", KvmIoctl.GetMpState),
            ("KVM_SET_MP_STATE", KvmIoctl.SetMpState), ("KVM_GET_VCPU_EVENTS", KvmIoctl.GetVcpuEvents), ("KVM_SET_VCPU_EVENTS", KvmIoctl.SetVcpuEvents),
            ("KVM_GET_DEBUGREGS", KvmIoctl.GetDebugRegs), ("KVM_SET_DEBUGREGS", KvmIoctl.SetDebugRegs), ("KVM_SET_TSC_KHZ", KvmIoctl.SetTscKhz),
            ("KVM_GET_TSC_KHZ", KvmIoctl.GetTscKhz), ("KVM_GET_XSAVE", KvmIoctl.GetXsave), ("KVM_SET_XSAVE", KvmIoctl.SetXsave),
            ("KVM_GET_XCRS", KvmIoctl.GetXcrs), ("KVM_SET_XCRS", KvmIoctl.SetXcrs), ("KVM_KVMCLOCK_CTRL", KvmIoctl.KvmclockCtrl),
            ("KVM_GET_XSAVE2", KvmIoctl.GetXsave2), ("KVM_CAP_MP_STATE", KvmIoctl.CapMpState), ("KVM_CAP_ADJUST_CLOCK", KvmIoctl.CapAdjustClock),
            ("KVM_CAP_VCPU_EVENTS", KvmIoctl.CapVcpuEvents), ("KVM_CAP_DEBUGREGS", KvmIoctl.CapDebugRegs), ("KVM_CAP_XSAVE", KvmIoctl.CapXsave),
            ("KVM_CAP_XCRS", KvmIoctl.CapXcrs), ("KVM_CAP_TSC_CONTROL", KvmIoctl.CapTscControl), ("KVM_CAP_GET_TSC_KHZ", KvmIoctl.CapGetTscKhz),
            ("KVM_CAP_KVMCLOCK_CTRL", KvmIoctl.CapKvmclockCtrl), ("KVM_CAP_GET_MSR_FEATURES", KvmIoctl.CapGetMsrFeatures),
            ("KVM_CAP_XSAVE2", KvmIoctl.CapXsave2), ("KVM_CLOCK_TSC_STABLE", KvmIoctl.ClockTscStable), ("KVM_CLOCK_REALTIME", KvmIoctl.ClockRealtime),
            ("KVM_CLOCK_HOST_TSC", KvmIoctl.ClockHostTsc), ("KVM_IRQCHIP_PIC_MASTER", KvmIoctl.IrqchipPicMaster),
        ];
        IReadOnlyDictionary<string, ulong> c = CLayout.Evaluate(["linux/kvm.h"], numbers.Select(n => n.Name));
        Assert.Multiple(() =>
        {
            foreach ((string name, ulong value) in numbers)
                Assert.That(value, Is.EqualTo(c[name] & 0xFFFF_FFFF), name); // the kernel takes the request as 32 bits
        });
    }
}
