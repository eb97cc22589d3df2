using System.Runtime.InteropServices;

// The kernel structs that carry a guest's state in and out of KVM for snapshots, laid out as <linux/kvm.h> and
// <asm/kvm.h> (x86_64) declare them; KvmStructsTests compares every size and offset with the C compiler's.
// Most are captured and restored as whole byte images: the fields named here are the ones the backend reads.
#pragma warning disable CA1051, CA1815 // interop structs: public fields, no equality
namespace Lguest.Kvm;

/// <summary>The head of struct kvm_msr_list; <see cref="Nmsrs"/> MSR indices (u32) follow it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmMsrList
{
    public uint Nmsrs;
}

/// <summary>struct kvm_xcr: one extended control register (XCR0 is the one that exists).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmXcr
{
    public uint Xcr;
    public uint Reserved;
    public ulong Value;
}

/// <summary>struct kvm_xcrs (KVM_MAX_XCRS = 16 entries, then 16 u64 of padding).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmXcrs
{
    public const int MaxXcrs = 16;

    public uint NrXcrs;
    public uint Flags;
    public fixed byte Xcrs[MaxXcrs * 16]; // struct kvm_xcr xcrs[KVM_MAX_XCRS]
    public fixed ulong Padding[16];
}

/// <summary>struct kvm_mp_state: KVM_MP_STATE_RUNNABLE, _UNINITIALIZED (an AP waiting for INIT/SIPI), _HALTED, ...</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmMpState
{
    public uint MpState;
}

/// <summary>struct kvm_debugregs (x86): DR0-3, DR6, DR7.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmDebugRegs
{
    public fixed ulong Db[4];
    public ulong Dr6;
    public ulong Dr7;
    public ulong Flags;
    public fixed ulong Reserved[9];
}

/// <summary>
/// struct kvm_vcpu_events (x86): exceptions, interrupts, NMIs and SMIs pending or being injected. Carried as
/// its image; <see cref="Flags"/> says which parts KVM filled (KVM_VCPUEVENT_VALID_*), and goes back as it was.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct KvmVcpuEvents
{
    [FieldOffset(0)] public byte ExceptionInjected;  // exception.injected
    [FieldOffset(8)] public byte InterruptInjected;  // interrupt.injected
    [FieldOffset(12)] public byte NmiInjected;       // nmi.injected
    [FieldOffset(16)] public uint SipiVector;        // sipi_vector
    [FieldOffset(20)] public uint Flags;             // flags
    [FieldOffset(24)] public byte Smm;               // smi.smm
    [FieldOffset(28)] public byte TripleFaultPending; // triple_fault.pending
    [FieldOffset(55)] public byte ExceptionHasPayload; // exception_has_payload
    [FieldOffset(56)] public ulong ExceptionPayload;  // exception_payload
}

/// <summary>
/// struct kvm_irqchip: one of the in-kernel interrupt controllers (<see cref="ChipId"/>: KVM_IRQCHIP_PIC_MASTER,
/// _PIC_SLAVE or _IOAPIC) and its state, a 512-byte union of struct kvm_pic_state and struct kvm_ioapic_state.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmIrqchip
{
    public const int ChipSize = 512;

    public uint ChipId;
    public uint Pad;
    public fixed byte Chip[ChipSize];
}

/// <summary>struct kvm_pit_channel_state: one 8254 counter as the in-kernel PIT keeps it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmPitChannelState
{
    public uint Count;
    public ushort LatchedCount;
    public byte CountLatched;
    public byte StatusLatched;
    public byte Status;
    public byte ReadState;
    public byte WriteState;
    public byte WriteLatch;
    public byte RwMode;
    public byte Mode;
    public byte Bcd;
    public byte Gate;
    public long CountLoadTime;
}

/// <summary>struct kvm_pit_state2: the three counters and the PIT's flags (KVM_PIT_FLAGS_HPET_LEGACY, _SPEAKER_DATA_ON).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmPitState2
{
    public KvmPitChannelState Channel0;
    public KvmPitChannelState Channel1;
    public KvmPitChannelState Channel2;
    public uint Flags;
    public fixed uint Reserved[9];
}

/// <summary>struct kvm_clock_data: the VM's kvmclock in ns, with the flags saying which other fields hold.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmClockData
{
    public ulong Clock;
    public uint Flags;
    public uint Pad0;
    public ulong Realtime;
    public ulong HostTsc;
    public fixed uint Pad[4];
}
