using Iced.Intel;
using Lguest.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace Lguest.Tests.Support;

/// <summary>
/// A 32-bit guest (PVH entry: flat protected mode, paging off) whose output depends on nearly every piece of
/// vCPU and VM state a snapshot must carry: it runs on the 8259 PIC and 8254 PIT of KVM's in-kernel irqchip
/// (timer interrupts through an IDT, waiting for ticks with hlt), keeps a pseudo-random generator in ESI, a
/// counter in SSE register XMM0 (XMM1 stays zero), a running value in MSR_IA32_SYSENTER_ESP and one in DR0, and a tick counter in
/// RAM. Each of its <see cref="Stages"/> stages reads a dword from <see cref="InputPort"/> into ESI, then reports <see cref="ReportsPerStage"/> dwords on
/// <see cref="ReportPort"/>; a run without a snapshot and one restored part way must report the same.
/// </summary>
internal static class ClockworkGuest
{
    public static readonly GuestAddress Entry = new(0x100000);
    public const ushort ReportPort = 0x520;
    public const int Stages = 12;
    public const int ReportsPerStage = 6;

    /// <summary>The port each stage first reads a dword from (the host's answer goes into ESI).</summary>
    public const ushort InputPort = 0x524;

    /// <summary>The port accesses per stage: the read from <see cref="InputPort"/>, then the reports.</summary>
    public const int EventsPerStage = ReportsPerStage + 1;

    /// <summary>Timer ticks the guest sleeps between stages (the PIT at 1 kHz).</summary>
    public const int TicksPerStage = 3;

    private const uint IdtBase = 0x80000;
    private const uint TickCounter = 0x90000;
    private const uint IdtrAt = 0x90010;
    private const uint ZeroBlock = 0x90020;   // 16 zero bytes (fresh RAM)
    private const uint XmmScratch = 0x90040;
    private const ushort CodeSelector = 0x10; // BootGdt.CodeSelector: PVH entry's flat 32-bit code segment
    private const uint TimerVector = 0x20;
    private const uint MsrSysenterEsp = 0x175;

    /// <summary>Where the timer's interrupt handler is put, below the program.</summary>
    private const uint HandlerAt = 0xF0000;

    /// <summary>Writes the program at <see cref="Entry"/> and its interrupt handler below it.</summary>
    public static void Load(GuestMemory memory)
    {
        memory.Write(Entry, AssembleProgram());
        memory.Write(new GuestAddress(HandlerAt), AssembleHandler());
    }

    private static byte[] AssembleHandler()
    {
        var a = new Assembler(32);
        a.push(eax);
        a.inc(__dword_ptr[TickCounter]);
        a.mov(al, 0x20);
        a.@out(0x20, al);                   // non-specific EOI
        // Return without iret, which kvm_pvm's emulator cannot do in protected mode (as the probe's idt.S):
        // turn the frame EIP, CS, EFLAGS into EFLAGS, EIP, then popfd; ret (CS is unchanged).
        a.mov(eax, __dword_ptr[esp + 4]);
        a.xchg(__dword_ptr[esp + 12], eax);
        a.mov(__dword_ptr[esp + 8], eax);
        a.pop(eax);
        a.add(esp, 4);
        a.popfd();
        a.ret();
        return Encode(a, HandlerAt);
    }

    private static byte[] AssembleProgram()
    {
        var a = new Assembler(32);
        Label stage = a.CreateLabel(), wait = a.CreateLabel(), done = a.CreateLabel();

        // SSE on: CR4.OSFXSR and OSXMMEXCPT, CR0.MP set and EM clear.
        a.mov(eax, cr4);
        a.or(eax, 0x600);
        a.mov(cr4, eax);
        a.mov(eax, cr0);
        a.and(eax, ~4);
        a.or(eax, 2);
        a.mov(cr0, eax);

        // The timer's interrupt gate at vector 0x20: present, DPL 0, 32-bit interrupt gate.
        a.mov(__dword_ptr[IdtBase + TimerVector * 8], (CodeSelector << 16) | (HandlerAt & 0xFFFF));
        a.mov(__dword_ptr[IdtBase + TimerVector * 8 + 4], (HandlerAt & 0xFFFF_0000) | 0x8E00);
        a.mov(__word_ptr[IdtrAt], (ushort)(256 * 8 - 1));
        a.mov(__dword_ptr[IdtrAt + 2], IdtBase);
        a.lidt(__fword_ptr[IdtrAt]);

        // The PICs at vectors 0x20-0x2f, only IRQ 0 unmasked; the PIT's counter 0 in mode 2 at 1 kHz.
        foreach ((byte port, byte value) in new (byte, byte)[]
        {
            (0x20, 0x11), (0x21, 0x20), (0x21, 0x04), (0x21, 0x01),
            (0xA0, 0x11), (0xA1, 0x28), (0xA1, 0x02), (0xA1, 0x01),
            (0x21, 0xFE), (0xA1, 0xFF),
            (0x43, 0x34), (0x40, 1193 & 0xFF), (0x40, 1193 >> 8),
        })
        {
            a.mov(al, value);
            a.@out(port, al);
        }

        // The state that evolves: ESI (an LCG), XMM0 += XMM1, MSR_IA32_SYSENTER_ESP, DR0; EDI counts stages.
        a.mov(esi, 0x1234_5678);
        a.movdqu(xmm0, __xmmword_ptr[ZeroBlock]);
        a.movdqu(xmm1, __xmmword_ptr[ZeroBlock]);
        a.mov(ecx, MsrSysenterEsp);
        a.mov(eax, 0x5566_7788);
        a.mov(edx, 0x1122_3344);
        a.wrmsr();
        a.mov(eax, 0x0BAD_F00D);
        a.mov(dr0, eax);
        a.xor(edi, edi);
        a.mov(__dword_ptr[TickCounter], 0);
        a.sti();

        a.Label(ref stage);
        a.mov(dx, InputPort);
        a.@in(eax, dx);
        a.add(esi, eax);
        a.imul(esi, esi, 1103515245);
        a.add(esi, 12345);
        // XMM0 += (1, 0, 0, 2) through memory (kvm_pvm's emulator moves SSE registers but does no SSE arithmetic),
        // then the memory is cleared: between stages the value lives in XMM0 alone.
        a.movdqu(__xmmword_ptr[XmmScratch], xmm0);
        a.add(__dword_ptr[XmmScratch], 0x0101_0101);
        a.add(__dword_ptr[XmmScratch + 12], 0x0202_0202);
        a.movdqu(xmm0, __xmmword_ptr[XmmScratch]);
        a.movdqu(__xmmword_ptr[XmmScratch], xmm1);
        a.mov(ecx, MsrSysenterEsp);
        a.rdmsr();
        a.add(eax, esi);
        a.wrmsr();
        a.mov(ebx, dr0);
        a.add(ebx, edi);
        a.mov(dr0, ebx);
        Report(a, edi);
        Report(a, esi);
        a.movdqu(__xmmword_ptr[XmmScratch], xmm0);
        a.mov(eax, __dword_ptr[XmmScratch]);
        Report(a, eax);
        a.mov(ecx, MsrSysenterEsp);
        a.rdmsr();
        Report(a, eax);
        a.mov(eax, dr0);
        Report(a, eax);
        a.mov(eax, __dword_ptr[XmmScratch + 12]);
        Report(a, eax);
        a.movdqu(__xmmword_ptr[XmmScratch], xmm1);
        // Sleep until the timer has ticked TicksPerStage more times.
        a.mov(ebx, __dword_ptr[TickCounter]);
        a.add(ebx, TicksPerStage);
        a.Label(ref wait);
        a.hlt();
        a.cmp(__dword_ptr[TickCounter], ebx);
        a.jb(wait);
        a.inc(edi);
        a.cmp(edi, Stages);
        a.jb(stage);

        a.Label(ref done);
        a.cli();
        a.hlt();
        a.jmp(done);
        return Encode(a, Entry.Value);
    }

    private static byte[] Encode(Assembler a, ulong at)
    {
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), at);
        return stream.ToArray();
    }

    private static void Report(Assembler a, AssemblerRegister32 value)
    {
        if (value != eax)
            a.mov(eax, value);
        a.mov(dx, ReportPort);
        a.@out(dx, eax);
    }
}
