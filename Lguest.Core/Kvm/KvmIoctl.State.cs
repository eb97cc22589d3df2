namespace Lguest.Kvm;

// The requests that capture and restore a guest's state for snapshots (api.rst §4: KVM_GET_* and KVM_SET_* of
// each piece), with the capabilities that announce them. Recomputed from <linux/kvm.h> by KvmStructsTests.
internal static partial class KvmIoctl
{
    // On /dev/kvm.
    public const uint GetMsrIndexList = 0xC004AE02;        // KVM_GET_MSR_INDEX_LIST         _IOWR(0xAE, 0x02, struct kvm_msr_list)
    public const uint GetMsrFeatureIndexList = 0xC004AE0A; // KVM_GET_MSR_FEATURE_INDEX_LIST _IOWR(0xAE, 0x0a, struct kvm_msr_list)

    // On a VM fd.
    public const uint GetIrqchip = 0xC208AE62;          // KVM_GET_IRQCHIP      _IOWR(0xAE, 0x62, struct kvm_irqchip)
    public const uint SetIrqchip = 0x8208AE63;          // KVM_SET_IRQCHIP      _IOR(0xAE, 0x63, struct kvm_irqchip)
    public const uint SetClock = 0x4030AE7B;            // KVM_SET_CLOCK        _IOW(0xAE, 0x7b, struct kvm_clock_data)
    public const uint GetClock = 0x8030AE7C;            // KVM_GET_CLOCK        _IOR(0xAE, 0x7c, struct kvm_clock_data)
    public const uint GetPit2 = 0x8070AE9F;             // KVM_GET_PIT2         _IOR(0xAE, 0x9f, struct kvm_pit_state2)
    public const uint SetPit2 = 0x4070AEA0;             // KVM_SET_PIT2         _IOW(0xAE, 0xa0, struct kvm_pit_state2)

    // On a vCPU fd.
    public const uint GetFpu = 0x81A0AE8C;              // KVM_GET_FPU          _IOR(0xAE, 0x8c, struct kvm_fpu)
    public const uint GetCpuid2 = 0xC008AE91;           // KVM_GET_CPUID2       _IOWR(0xAE, 0x91, struct kvm_cpuid2)
    public const uint GetMpState = 0x8004AE98;          // KVM_GET_MP_STATE     _IOR(0xAE, 0x98, struct kvm_mp_state)
    public const uint SetMpState = 0x4004AE99;          // KVM_SET_MP_STATE     _IOW(0xAE, 0x99, struct kvm_mp_state)
    public const uint GetVcpuEvents = 0x8040AE9F;       // KVM_GET_VCPU_EVENTS  _IOR(0xAE, 0x9f, struct kvm_vcpu_events)
    public const uint SetVcpuEvents = 0x4040AEA0;       // KVM_SET_VCPU_EVENTS  _IOW(0xAE, 0xa0, struct kvm_vcpu_events)
    public const uint GetDebugRegs = 0x8080AEA1;        // KVM_GET_DEBUGREGS    _IOR(0xAE, 0xa1, struct kvm_debugregs)
    public const uint SetDebugRegs = 0x4080AEA2;        // KVM_SET_DEBUGREGS    _IOW(0xAE, 0xa2, struct kvm_debugregs)
    public const uint SetTscKhz = 0xAEA2;               // KVM_SET_TSC_KHZ      _IO(0xAE, 0xa2)
    public const uint GetTscKhz = 0xAEA3;               // KVM_GET_TSC_KHZ      _IO(0xAE, 0xa3)
    public const uint GetXsave = 0x9000AEA4;            // KVM_GET_XSAVE        _IOR(0xAE, 0xa4, struct kvm_xsave)
    public const uint SetXsave = 0x5000AEA5;            // KVM_SET_XSAVE        _IOW(0xAE, 0xa5, struct kvm_xsave)
    public const uint GetXcrs = 0x8188AEA6;             // KVM_GET_XCRS         _IOR(0xAE, 0xa6, struct kvm_xcrs)
    public const uint SetXcrs = 0x4188AEA7;             // KVM_SET_XCRS         _IOW(0xAE, 0xa7, struct kvm_xcrs)
    public const uint KvmclockCtrl = 0xAEAD;            // KVM_KVMCLOCK_CTRL    _IO(0xAE, 0xad)
    public const uint GetXsave2 = 0x9000AECF;           // KVM_GET_XSAVE2       _IOR(0xAE, 0xcf, struct kvm_xsave)

    public const nuint CapMpState = 14;                 // KVM_CAP_MP_STATE
    public const nuint CapAdjustClock = 39;             // KVM_CAP_ADJUST_CLOCK
    public const nuint CapVcpuEvents = 41;              // KVM_CAP_VCPU_EVENTS
    public const nuint CapDebugRegs = 50;               // KVM_CAP_DEBUGREGS
    public const nuint CapXsave = 55;                   // KVM_CAP_XSAVE
    public const nuint CapXcrs = 56;                    // KVM_CAP_XCRS
    public const nuint CapTscControl = 60;              // KVM_CAP_TSC_CONTROL
    public const nuint CapGetTscKhz = 61;               // KVM_CAP_GET_TSC_KHZ
    public const nuint CapKvmclockCtrl = 76;            // KVM_CAP_KVMCLOCK_CTRL
    public const nuint CapGetMsrFeatures = 153;         // KVM_CAP_GET_MSR_FEATURES
    public const nuint CapXsave2 = 208;                 // KVM_CAP_XSAVE2

    public const uint ClockTscStable = 2;               // KVM_CLOCK_TSC_STABLE
    public const uint ClockRealtime = 1 << 2;           // KVM_CLOCK_REALTIME
    public const uint ClockHostTsc = 1 << 3;            // KVM_CLOCK_HOST_TSC
}
