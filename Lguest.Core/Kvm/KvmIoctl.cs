namespace Lguest.Kvm;

/// <summary>
/// The ioctl request numbers and capability numbers of the KVM API, as &lt;linux/kvm.h&gt; defines them
/// (the _IO/_IOR/_IOW/_IOWR encodings of type 0xAE are spelled out; a test recomputes them from the
/// encoding rule and the struct sizes).
/// </summary>
// Requests are uint, not nuint: the kernel takes them as 32 bits, and a nuint constant above 2^31 read from
// another assembly comes back sign-extended.
internal static partial class KvmIoctl
{
    // On /dev/kvm.
    public const uint GetApiVersion = 0xAE00;          // KVM_GET_API_VERSION      _IO(0xAE, 0x00)
    public const uint CreateVm = 0xAE01;               // KVM_CREATE_VM            _IO(0xAE, 0x01)
    public const uint CheckExtension = 0xAE03;         // KVM_CHECK_EXTENSION      _IO(0xAE, 0x03)
    public const uint GetVcpuMmapSize = 0xAE04;        // KVM_GET_VCPU_MMAP_SIZE   _IO(0xAE, 0x04)
    public const uint GetSupportedCpuid = 0xC008AE05;  // KVM_GET_SUPPORTED_CPUID  _IOWR(0xAE, 0x05, struct kvm_cpuid2)

    // On a VM fd.
    public const uint CreateVcpu = 0xAE41;             // KVM_CREATE_VCPU          _IO(0xAE, 0x41)
    public const uint SetUserMemoryRegion = 0x4020AE46; // KVM_SET_USER_MEMORY_REGION _IOW(0xAE, 0x46, struct kvm_userspace_memory_region)
    public const uint SetTssAddr = 0xAE47;             // KVM_SET_TSS_ADDR         _IO(0xAE, 0x47)
    public const uint SetIdentityMapAddr = 0x4008AE48; // KVM_SET_IDENTITY_MAP_ADDR _IOW(0xAE, 0x48, __u64)
    public const uint CreateIrqchip = 0xAE60;          // KVM_CREATE_IRQCHIP       _IO(0xAE, 0x60)
    public const uint IrqLine = 0x4008AE61;
    public const uint SetGsiRouting = 0x4008AE6A;      // KVM_SET_GSI_ROUTING      _IOW(0xAE, 0x6a, struct kvm_irq_routing)            // KVM_IRQ_LINE             _IOW(0xAE, 0x61, struct kvm_irq_level)
    public const uint Irqfd = 0x4020AE76;              // KVM_IRQFD                _IOW(0xAE, 0x76, struct kvm_irqfd)
    public const uint CreatePit2 = 0x4040AE77;         // KVM_CREATE_PIT2          _IOW(0xAE, 0x77, struct kvm_pit_config)
    public const uint Ioeventfd = 0x4040AE79;          // KVM_IOEVENTFD            _IOW(0xAE, 0x79, struct kvm_ioeventfd)

    // On a vCPU fd.
    public const uint Run = 0xAE80;                    // KVM_RUN                  _IO(0xAE, 0x80)
    public const uint GetRegs = 0x8090AE81;            // KVM_GET_REGS             _IOR(0xAE, 0x81, struct kvm_regs)
    public const uint SetRegs = 0x4090AE82;            // KVM_SET_REGS             _IOW(0xAE, 0x82, struct kvm_regs)
    public const uint GetSregs = 0x8138AE83;           // KVM_GET_SREGS            _IOR(0xAE, 0x83, struct kvm_sregs)
    public const uint SetSregs = 0x4138AE84;           // KVM_SET_SREGS            _IOW(0xAE, 0x84, struct kvm_sregs)
    public const uint GetMsrs = 0xC008AE88;            // KVM_GET_MSRS             _IOWR(0xAE, 0x88, struct kvm_msrs)
    public const uint SetMsrs = 0x4008AE89;            // KVM_SET_MSRS             _IOW(0xAE, 0x89, struct kvm_msrs)
    public const uint SetSignalMask = 0x4004AE8B;      // KVM_SET_SIGNAL_MASK      _IOW(0xAE, 0x8b, struct kvm_signal_mask)
    public const uint SetFpu = 0x41A0AE8D;             // KVM_SET_FPU              _IOW(0xAE, 0x8d, struct kvm_fpu)
    public const uint GetLapic = 0x8400AE8E;           // KVM_GET_LAPIC            _IOR(0xAE, 0x8e, struct kvm_lapic_state)
    public const uint SetLapic = 0x4400AE8F;           // KVM_SET_LAPIC            _IOW(0xAE, 0x8f, struct kvm_lapic_state)
    public const uint SetCpuid2 = 0x4008AE90;          // KVM_SET_CPUID2           _IOW(0xAE, 0x90, struct kvm_cpuid2)

    /// <summary>The only API version there has ever been a stable ABI for (api.rst §4.1).</summary>
    public const int ApiVersion = 12;

    // KVM_CHECK_EXTENSION arguments.
    public const nuint CapIrqchip = 0;                  // KVM_CAP_IRQCHIP
    public const nuint CapUserMemory = 3;               // KVM_CAP_USER_MEMORY
    public const nuint CapSetTssAddr = 4;               // KVM_CAP_SET_TSS_ADDR
    public const nuint CapExtCpuid = 7;                 // KVM_CAP_EXT_CPUID
    public const nuint CapNrVcpus = 9;                  // KVM_CAP_NR_VCPUS
    public const nuint CapNrMemslots = 10;              // KVM_CAP_NR_MEMSLOTS
    public const nuint CapIrqRouting = 0x19;            // KVM_CAP_IRQ_ROUTING
    public const nuint CapIrqfd = 0x20;                 // KVM_CAP_IRQFD
    public const nuint CapPit2 = 0x21;                  // KVM_CAP_PIT2
    public const nuint CapIoeventfd = 0x24;             // KVM_CAP_IOEVENTFD
    public const nuint CapSetIdentityMapAddr = 0x25;    // KVM_CAP_SET_IDENTITY_MAP_ADDR
    public const nuint CapMaxVcpus = 0x42;              // KVM_CAP_MAX_VCPUS
    public const nuint CapTscDeadlineTimer = 0x48;      // KVM_CAP_TSC_DEADLINE_TIMER
    public const nuint CapImmediateExit = 0x88;         // KVM_CAP_IMMEDIATE_EXIT

    // kvm_run.exit_reason.
    public const uint ExitUnknown = 0;                  // KVM_EXIT_UNKNOWN
    public const uint ExitException = 1;                // KVM_EXIT_EXCEPTION
    public const uint ExitIo = 2;                       // KVM_EXIT_IO
    public const uint ExitHypercall = 3;                // KVM_EXIT_HYPERCALL
    public const uint ExitDebug = 4;                    // KVM_EXIT_DEBUG
    public const uint ExitHlt = 5;                      // KVM_EXIT_HLT
    public const uint ExitMmio = 6;                     // KVM_EXIT_MMIO
    public const uint ExitIrqWindowOpen = 7;            // KVM_EXIT_IRQ_WINDOW_OPEN
    public const uint ExitShutdown = 8;                 // KVM_EXIT_SHUTDOWN
    public const uint ExitFailEntry = 9;                // KVM_EXIT_FAIL_ENTRY
    public const uint ExitIntr = 10;                    // KVM_EXIT_INTR
    public const uint ExitInternalError = 17;           // KVM_EXIT_INTERNAL_ERROR
    public const uint ExitSystemEvent = 24;             // KVM_EXIT_SYSTEM_EVENT

    public const byte ExitIoIn = 0;                     // KVM_EXIT_IO_IN
    public const byte ExitIoOut = 1;                    // KVM_EXIT_IO_OUT

    public const uint SystemEventShutdown = 1;          // KVM_SYSTEM_EVENT_SHUTDOWN
    public const uint SystemEventReset = 2;             // KVM_SYSTEM_EVENT_RESET
    public const uint SystemEventCrash = 3;             // KVM_SYSTEM_EVENT_CRASH

    public const uint InternalErrorEmulation = 1;       // KVM_INTERNAL_ERROR_EMULATION
    public const uint InternalErrorSimulEx = 2;         // KVM_INTERNAL_ERROR_SIMUL_EX
    public const uint InternalErrorDeliveryEv = 3;      // KVM_INTERNAL_ERROR_DELIVERY_EV
    public const uint InternalErrorUnexpectedExitReason = 4; // KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON

    public const uint IrqRoutingIrqchip = 1;           // KVM_IRQ_ROUTING_IRQCHIP
    public const uint IrqRoutingMsi = 2;               // KVM_IRQ_ROUTING_MSI
    public const uint IrqchipPicMaster = 0;            // KVM_IRQCHIP_PIC_MASTER
    public const uint IrqchipPicSlave = 1;             // KVM_IRQCHIP_PIC_SLAVE
    public const uint IrqchipIoapic = 2;               // KVM_IRQCHIP_IOAPIC

    public const uint PitSpeakerDummy = 1;              // KVM_PIT_SPEAKER_DUMMY
    public const uint IoeventfdFlagDatamatch = 1;       // KVM_IOEVENTFD_FLAG_DATAMATCH
    public const uint IoeventfdFlagPio = 2;             // KVM_IOEVENTFD_FLAG_PIO
    public const uint IoeventfdFlagDeassign = 4;        // KVM_IOEVENTFD_FLAG_DEASSIGN
    public const uint IrqfdFlagDeassign = 1;            // KVM_IRQFD_FLAG_DEASSIGN
    public const uint CpuidFlagSignificantIndex = 1;    // KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic)
}
