using System.Runtime.InteropServices;

// The kernel structs of the KVM API, blittable and laid out exactly as <linux/kvm.h> and
// <asm/kvm.h> (x86_64) declare them. KvmStructsTests compiles a C program against the installed
// headers and compares every size and offset named here.
#pragma warning disable CA1051, CA1815 // interop structs: public fields, no equality
namespace Lguest.Kvm;

/// <summary>The fixed head of struct kvm_run (the page shared with KVM_RUN); the exit union follows at <see cref="ExitUnionOffset"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmRun
{
    public const int ExitUnionOffset = 32;

    public byte RequestInterruptWindow;
    public byte ImmediateExit;
    private readonly byte _padding1, _padding2, _padding3, _padding4, _padding5, _padding6;
    public uint ExitReason;
    public byte ReadyForInterruptInjection;
    public byte IfFlag;
    public ushort Flags;
    public ulong Cr8;
    public ulong ApicBase;
}

/// <summary>kvm_run.io (KVM_EXIT_IO).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmRunIo
{
    public byte Direction;
    public byte Size;
    public ushort Port;
    public uint Count;
    public ulong DataOffset; // relative to the start of kvm_run
}

/// <summary>kvm_run.mmio (KVM_EXIT_MMIO).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmRunMmio
{
    public ulong PhysAddr;
    public fixed byte Data[8];
    public uint Len;
    public byte IsWrite;
}

/// <summary>kvm_run.fail_entry (KVM_EXIT_FAIL_ENTRY).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmRunFailEntry
{
    public ulong HardwareEntryFailureReason;
    public uint Cpu;
}

/// <summary>kvm_run.internal (KVM_EXIT_INTERNAL_ERROR).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmRunInternal
{
    public uint Suberror;
    public uint Ndata;
    public fixed ulong Data[16];
}

/// <summary>kvm_run.system_event (KVM_EXIT_SYSTEM_EVENT).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmRunSystemEvent
{
    public uint Type;
    public uint Ndata;
    public fixed ulong Data[16];
}

/// <summary>struct kvm_regs (x86).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmRegs
{
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    public ulong Rip, Rflags;
}

/// <summary>struct kvm_segment (x86): a segment register in its unpacked, cached form.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmSegment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type;
    public byte Present, Dpl, Db, S, L, G, Avl;
    public byte Unusable;
    public byte Padding;
}

/// <summary>struct kvm_dtable (x86): GDTR or IDTR.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmDtable
{
    public ulong Base;
    public ushort Limit;
    public fixed ushort Padding[3];
}

/// <summary>struct kvm_sregs (x86).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmSregs
{
    public KvmSegment Cs, Ds, Es, Fs, Gs, Ss;
    public KvmSegment Tr, Ldt;
    public KvmDtable Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8;
    public ulong Efer;
    public ulong ApicBase;
    public fixed ulong InterruptBitmap[4]; // (KVM_NR_INTERRUPTS + 63) / 64
}

/// <summary>struct kvm_userspace_memory_region.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmUserspaceMemoryRegion
{
    public uint Slot;
    public uint Flags;
    public ulong GuestPhysAddr;
    public ulong MemorySize;
    public ulong UserspaceAddr;
}

/// <summary>The head of struct kvm_cpuid2; <see cref="KvmCpuidEntry2"/> entries follow it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmCpuid2
{
    public uint Nent;
    public uint Padding;
}

/// <summary>struct kvm_cpuid_entry2.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmCpuidEntry2
{
    public uint Function;
    public uint Index;
    public uint Flags;
    public uint Eax, Ebx, Ecx, Edx;
    public fixed uint Padding[3];
}

/// <summary>The head of struct kvm_msrs; <see cref="KvmMsrEntry"/> entries follow it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmMsrs
{
    public uint Nmsrs;
    public uint Pad;
}

/// <summary>struct kvm_msr_entry.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmMsrEntry
{
    public uint Index;
    public uint Reserved;
    public ulong Data;
}

/// <summary>struct kvm_pit_config.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmPitConfig
{
    public uint Flags;
    public fixed uint Pad[15];
}

/// <summary>struct kvm_irq_level (irq is a union with status, unused here).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmIrqLevel
{
    public uint Irq;
    public uint Level;
}

/// <summary>struct kvm_irqfd.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmIrqfd
{
    public uint Fd;
    public uint Gsi;
    public uint Flags;
    public uint Resamplefd;
    public fixed byte Pad[16];
}

/// <summary>struct kvm_ioeventfd.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmIoeventfd
{
    public ulong Datamatch;
    public ulong Addr;
    public uint Len;
    public int Fd;
    public uint Flags;
    public fixed byte Pad[36];
}

/// <summary>struct kvm_fpu (x86).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmFpu
{
    public fixed byte Fpr[128];
    public ushort Fcw;
    public ushort Fsw;
    public byte Ftwx;
    public byte Pad1;
    public ushort LastOpcode;
    public ulong LastIp;
    public ulong LastDp;
    public fixed byte Xmm[256];
    public uint Mxcsr;
    public uint Pad2;
}

/// <summary>struct kvm_lapic_state (x86): the local APIC's 1 KiB register page.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmLapicState
{
    public const int Size = 1024;
    public fixed byte Regs[Size];
}

/// <summary>struct kvm_signal_mask with room for the kernel's 8-byte sigset_t.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct KvmSignalMask
{
    public uint Len;
    public ulong Sigset;
}

/// <summary>The head of struct kvm_irq_routing; <see cref="KvmIrqRoutingEntry"/> entries follow it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmIrqRouting
{
    public uint Nr;
    public uint Flags;
}

/// <summary>
/// struct kvm_irq_routing_entry: its union as the irqchip variant (<see cref="Irqchip"/>, <see cref="Pin"/>)
/// or the MSI variant (<see cref="AddressLo"/> to <see cref="Devid"/>); the union is 32 bytes.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct KvmIrqRoutingEntry
{
    [FieldOffset(0)] public uint Gsi;
    [FieldOffset(4)] public uint Type;
    [FieldOffset(8)] public uint Flags;
    [FieldOffset(12)] public uint Pad;
    [FieldOffset(16)] public uint Irqchip;   // u.irqchip.irqchip
    [FieldOffset(20)] public uint Pin;       // u.irqchip.pin
    [FieldOffset(16)] public uint AddressLo; // u.msi.address_lo
    [FieldOffset(20)] public uint AddressHi; // u.msi.address_hi
    [FieldOffset(24)] public uint Data;      // u.msi.data
    [FieldOffset(28)] public uint Devid;     // u.msi.devid (only with KVM_MSI_VALID_DEVID, unused)
}
