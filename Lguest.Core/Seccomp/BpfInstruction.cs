using System.Runtime.InteropServices;

namespace Lguest.Seccomp;

/// <summary>One classic BPF instruction, laid out as the kernel's <c>struct sock_filter</c> (<c>linux/filter.h</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct BpfInstruction(ushort Code, byte JumpIfTrue, byte JumpIfFalse, uint K)
{
    // Opcode pieces, <linux/bpf_common.h>.
    public const ushort Ld = 0x00;   // BPF_LD
    public const ushort Jmp = 0x05;  // BPF_JMP
    public const ushort Ret = 0x06;  // BPF_RET
    public const ushort W = 0x00;    // BPF_W: a 32-bit word
    public const ushort Abs = 0x20;  // BPF_ABS: at a fixed offset of the seccomp_data
    public const ushort Ja = 0x00;   // BPF_JA
    public const ushort Jeq = 0x10;  // BPF_JEQ
    public const ushort Jge = 0x30;  // BPF_JGE
    public const ushort K_ = 0x00;   // BPF_K: compare with the constant

    /// <summary>Size of <c>struct sock_filter</c>.</summary>
    public const int Size = 8;

    /// <summary>The longest jump a conditional instruction can make: its offsets are one byte.</summary>
    public const int LongestJump = byte.MaxValue;

    /// <summary>A = the 32-bit word at <paramref name="offset"/> of the <c>seccomp_data</c>.</summary>
    public static BpfInstruction LoadWord(uint offset) => new(Ld | W | Abs, 0, 0, offset);

    /// <summary>If A == <paramref name="value"/> skip <paramref name="ifEqual"/> instructions, else <paramref name="ifNotEqual"/>.</summary>
    public static BpfInstruction JumpIfEqual(uint value, int ifEqual, int ifNotEqual) =>
        new(Jmp | Jeq | K_, Offset(ifEqual), Offset(ifNotEqual), value);

    /// <summary>If A &gt;= <paramref name="value"/> skip <paramref name="ifAtLeast"/> instructions, else <paramref name="ifBelow"/>.</summary>
    public static BpfInstruction JumpIfAtLeast(uint value, int ifAtLeast, int ifBelow) =>
        new(Jmp | Jge | K_, Offset(ifAtLeast), Offset(ifBelow), value);

    /// <summary>End the program with the seccomp action <paramref name="action"/>.</summary>
    public static BpfInstruction Return(uint action) => new(Ret | K_, 0, 0, action);

    private static byte Offset(int skip) =>
        skip is >= 0 and <= LongestJump ? (byte)skip : throw new ArgumentOutOfRangeException(nameof(skip), skip, "a BPF jump skips 0 to 255 instructions");
}
