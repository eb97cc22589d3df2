namespace Lguest.Kvm;

/// <summary>Architectural x86 constants (Intel SDM Vol. 3; Linux arch/x86/include/asm/msr-index.h names).</summary>
internal static class X86
{
    public const ulong Cr0Pe = 1UL << 0;    // X86_CR0_PE: protection enable
    public const ulong Cr0Mp = 1UL << 1;    // X86_CR0_MP
    public const ulong Cr0Et = 1UL << 4;    // X86_CR0_ET: always 1 on a 387+
    public const ulong Cr0Ne = 1UL << 5;    // X86_CR0_NE: native FPU error reporting
    public const ulong Cr0Pg = 1UL << 31;   // X86_CR0_PG: paging
    public const ulong Cr4Pae = 1UL << 5;   // X86_CR4_PAE
    public const ulong EferLme = 1UL << 8;  // EFER.LME: long mode enable
    public const ulong EferLma = 1UL << 10; // EFER.LMA: long mode active

    public const ulong RflagsReserved1 = 1UL << 1; // bit 1 of RFLAGS reads as 1

    public const uint MsrIa32SysenterCs = 0x174;
    public const uint MsrIa32SysenterEsp = 0x175;
    public const uint MsrIa32SysenterEip = 0x176;
    public const uint MsrIa32Tsc = 0x10;
    public const uint MsrIa32MiscEnable = 0x1A0;
    public const ulong MiscEnableFastString = 1UL << 0; // MSR_IA32_MISC_ENABLE_FAST_STRING
    public const uint MsrMtrrDefType = 0x2FF;
    public const ulong MtrrDefTypeEnable = 1UL << 11;   // MTRRdefType.E
    public const ulong MtrrTypeWriteBack = 6;
    public const uint MsrStar = 0xC0000081;
    public const uint MsrLstar = 0xC0000082;
    public const uint MsrCstar = 0xC0000083;
    public const uint MsrSyscallMask = 0xC0000084;
    public const uint MsrKernelGsBase = 0xC0000102;

    // Local APIC registers (SDM Vol. 3 §11.4), offsets in the 4 KiB register page.
    public const int ApicLvtLint0 = 0x350;
    public const int ApicLvtLint1 = 0x360;
    public const uint ApicDeliveryModeMask = 0x700;
    public const uint ApicDeliveryModeExtInt = 0x700;
    public const uint ApicDeliveryModeNmi = 0x400;
    public const uint ApicLvtMasked = 1u << 16;

    // Segment descriptor types (SDM Vol. 3 §3.4.5.1).
    public const byte SegmentTypeCodeExecuteReadAccessed = 0xB;
    public const byte SegmentTypeDataReadWriteAccessed = 0x3;
    public const byte SegmentTypeTss32Busy = 0xB;
}
