namespace Lguest.DevLguest;

/// <summary>
/// Byte offsets in the i386 <c>struct user_regs_struct</c> (&lt;sys/user.h&gt; for i386; the same order as the
/// kernel's i386 <c>struct pt_regs</c>, whose offsets the Host's lguest_arch_regptr() switches on): what
/// LHREQ_GETREG and LHREQ_SETREG name. Every field is 4 bytes.
/// </summary>
/// <remarks>
/// The Host lets the launcher read and write the general registers, EIP and ESP; it lets it read, never
/// write, the segment registers and EFLAGS; anything else is ENOENT.
/// </remarks>
internal static class UserRegs
{
    public const uint Ebx = 0;
    public const uint Ecx = 4;
    public const uint Edx = 8;
    public const uint Esi = 12;
    public const uint Edi = 16;
    public const uint Ebp = 20;
    public const uint Eax = 24;
    public const uint Xds = 28;
    public const uint Xes = 32;
    public const uint Xfs = 36;
    public const uint Xgs = 40;
    public const uint OrigEax = 44;
    public const uint Eip = 48;
    public const uint Xcs = 52;
    public const uint Eflags = 56;
    public const uint Esp = 60;
    public const uint Xss = 64;

    /// <summary>sizeof(struct user_regs_struct) on i386: 17 words.</summary>
    public const int Size = 68;

    /// <summary>
    /// The offset of general register <paramref name="number"/> as x86 encodes it in ModRM (0 EAX, 1 ECX,
    /// 2 EDX, 3 EBX, 4 ESP, 5 EBP, 6 ESI, 7 EDI).
    /// </summary>
    public static uint OfGeneralRegister(int number) => number switch
    {
        0 => Eax,
        1 => Ecx,
        2 => Edx,
        3 => Ebx,
        4 => Esp,
        5 => Ebp,
        6 => Esi,
        7 => Edi,
        _ => throw new ArgumentOutOfRangeException(nameof(number), number, "x86 has eight general registers"),
    };
}
