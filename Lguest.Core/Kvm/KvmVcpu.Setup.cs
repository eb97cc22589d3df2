using System.Runtime.InteropServices;
using Lguest.Hypervisor;
using Lguest.Interop;

namespace Lguest.Kvm;

/// <summary>A vCPU's state before it first runs: CPUID, MSRs, local APIC and the boot entry registers.</summary>
internal sealed unsafe partial class KvmVcpu
{
    /// <summary>The boot stack's top: below the page tables, above the GDT and the PVH start_info.</summary>
    public const ulong BootStackTop = 0x8FF0;

    /// <summary>Sets up everything KVM does not: called once, before the first <see cref="Run"/>.</summary>
    public void Configure(BootState? boot)
    {
        SetCpuid();
        SetBootMsrs();
        if (_vm.HasIrqchip)
            SetLocalInterruptPins();
        if (boot is not null)
            SetBootRegisters(boot);
    }

    /// <summary>Puts the vCPU at the entry of <paramref name="boot"/> in the mode its protocol names.</summary>
    public void SetBootRegisters(BootState boot)
    {
        ArgumentNullException.ThrowIfNull(boot);
        ushort gdtLimit = BootGdt.Write(_vm.Memory, boot.Mode);
        ulong[] gdt = BootGdt.Entries(boot.Mode);
        KvmSregs sregs = GetSpecialRegisters();
        sregs.Gdt.Base = BootGdt.Address.Value;
        sregs.Gdt.Limit = gdtLimit;
        // An empty IDT: an exception before the kernel loads its own triple-faults, which is reported.
        sregs.Idt.Base = 0;
        sregs.Idt.Limit = 0;
        KvmSegment code = BootGdt.ToSegment(gdt[BootGdt.CodeSelector / 8], BootGdt.CodeSelector);
        KvmSegment data = BootGdt.ToSegment(gdt[BootGdt.DataSelector / 8], BootGdt.DataSelector);
        sregs.Cs = code;
        sregs.Ds = sregs.Es = sregs.Fs = sregs.Gs = sregs.Ss = data;
        sregs.Tr = BootGdt.ToSegment(gdt[BootGdt.TssSelector / 8], BootGdt.TssSelector);

        var regs = new KvmRegs
        {
            Rip = boot.Entry.Value,
            Rflags = X86.RflagsReserved1,
            Rsp = BootStackTop,
            Rbp = BootStackTop,
        };
        switch (boot.Mode)
        {
            case BootCpuMode.Linux64:
                sregs.Cr3 = IdentityPageTables.Write(_vm.Memory);
                sregs.Cr4 |= X86.Cr4Pae;
                sregs.Cr0 |= X86.Cr0Pe | X86.Cr0Et | X86.Cr0Ne | X86.Cr0Pg;
                sregs.Efer |= X86.EferLme | X86.EferLma;
                regs.Rsi = boot.BootInfo.Value;
                break;
            case BootCpuMode.Linux32:
                sregs.Cr0 = (sregs.Cr0 | X86.Cr0Pe | X86.Cr0Et) & ~X86.Cr0Pg;
                regs.Rsi = boot.BootInfo.Value;
                break;
            case BootCpuMode.Pvh:
                sregs.Cr0 = (sregs.Cr0 | X86.Cr0Pe | X86.Cr0Et) & ~X86.Cr0Pg;
                regs.Rbx = boot.BootInfo.Value;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(boot), $"unknown boot mode {boot.Mode}");
        }
        SetSpecialRegisters(sregs);
        SetRegisters(regs);
        // The x87 control word and MXCSR at their reset values, as a BIOS would leave them.
        var fpu = new KvmFpu { Fcw = 0x37F, Mxcsr = 0x1F80 };
        Check(Libc.Ioctl(_fd, KvmIoctl.SetFpu, &fpu), "KVM_SET_FPU");
    }

    internal KvmRegs GetRegisters()
    {
        KvmRegs regs;
        Check(Libc.Ioctl(_fd, KvmIoctl.GetRegs, &regs), "KVM_GET_REGS");
        return regs;
    }

    internal void SetRegisters(KvmRegs regs) => Check(Libc.Ioctl(_fd, KvmIoctl.SetRegs, &regs), "KVM_SET_REGS");

    internal KvmSregs GetSpecialRegisters()
    {
        KvmSregs sregs;
        Check(Libc.Ioctl(_fd, KvmIoctl.GetSregs, &sregs), "KVM_GET_SREGS");
        return sregs;
    }

    internal void SetSpecialRegisters(KvmSregs sregs) => Check(Libc.Ioctl(_fd, KvmIoctl.SetSregs, &sregs), "KVM_SET_SREGS");

    /// <summary>The CPUID this vCPU gets (<see cref="VcpuCpuid.Build"/>): the TSC-deadline timer when the in-kernel local APIC has one.</summary>
    internal KvmCpuidEntry2[] BuildCpuid() =>
        VcpuCpuid.Build(_vm.Kvm.SupportedCpuid, _vm.Kvm.CpuTemplate, Index, _vm.HasIrqchip && _vm.Kvm.HasTscDeadlineTimer);

    private void SetCpuid() => SetCpuid(BuildCpuid());

    /// <summary>
    /// The MSRs a kernel expects at entry, as Firecracker and kvmtool set them: the SYSCALL/SYSENTER
    /// entry points cleared, fast strings on, and MTRRs enabled with write-back as the default type.
    /// </summary>
    internal static KvmMsrEntry[] BootMsrs() =>
    [
        new() { Index = X86.MsrIa32SysenterCs },
        new() { Index = X86.MsrIa32SysenterEsp },
        new() { Index = X86.MsrIa32SysenterEip },
        new() { Index = X86.MsrStar },
        new() { Index = X86.MsrCstar },
        new() { Index = X86.MsrKernelGsBase },
        new() { Index = X86.MsrSyscallMask },
        new() { Index = X86.MsrLstar },
        new() { Index = X86.MsrIa32Tsc },
        new() { Index = X86.MsrIa32MiscEnable, Data = X86.MiscEnableFastString },
        new() { Index = X86.MsrMtrrDefType, Data = X86.MtrrDefTypeEnable | X86.MtrrTypeWriteBack },
    ];

    private void SetBootMsrs()
    {
        KvmMsrEntry[] msrs = BootMsrs();
        int bytes = sizeof(KvmMsrs) + msrs.Length * sizeof(KvmMsrEntry);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            // Safety: buffer holds the head and msrs.Length entries.
            ((KvmMsrs*)buffer)->Nmsrs = (uint)msrs.Length;
            msrs.AsSpan().CopyTo(new Span<KvmMsrEntry>(buffer + sizeof(KvmMsrs), msrs.Length));
            int set = Libc.Ioctl(_fd, KvmIoctl.SetMsrs, buffer);
            if (set < 0)
                throw HypervisorException.FromErrno("KVM_SET_MSRS", Marshal.GetLastPInvokeError());
            // KVM_SET_MSRS returns how many it set, stopping at the first it refused.
            if (set != msrs.Length)
                throw new HypervisorException($"KVM_SET_MSRS refused MSR 0x{msrs[set].Index:x}");
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    /// <summary>The local APIC's register page (KVM_GET_LAPIC), for tests that look at what reached it.</summary>
    internal KvmLapicState GetLocalApic()
    {
        KvmLapicState lapic;
        Check(Libc.Ioctl(_fd, KvmIoctl.GetLapic, &lapic), "KVM_GET_LAPIC");
        return lapic;
    }

    /// <summary>Loads the local APIC's register page (KVM_SET_LAPIC).</summary>
    internal void SetLocalApic(KvmLapicState lapic) => Check(Libc.Ioctl(_fd, KvmIoctl.SetLapic, &lapic), "KVM_SET_LAPIC");

    /// <summary>
    /// LINT0 as ExtINT (the 8259 PIC's output) and LINT1 as NMI, as the MP specification's virtual-wire
    /// mode has them, so PIC interrupts reach the boot vCPU before the guest programs its APIC.
    /// </summary>
    private void SetLocalInterruptPins()
    {
        KvmLapicState lapic;
        Check(Libc.Ioctl(_fd, KvmIoctl.GetLapic, &lapic), "KVM_GET_LAPIC");
        uint* lint0 = (uint*)(lapic.Regs + X86.ApicLvtLint0);
        uint* lint1 = (uint*)(lapic.Regs + X86.ApicLvtLint1);
        *lint0 = (*lint0 & ~X86.ApicDeliveryModeMask) | X86.ApicDeliveryModeExtInt;
        *lint1 = (*lint1 & ~X86.ApicDeliveryModeMask) | X86.ApicDeliveryModeNmi;
        Check(Libc.Ioctl(_fd, KvmIoctl.SetLapic, &lapic), "KVM_SET_LAPIC");
    }

    private static void Check(int rc, string request)
    {
        if (rc < 0)
            throw HypervisorException.FromErrno(request, Marshal.GetLastPInvokeError());
    }
}
