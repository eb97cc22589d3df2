namespace Lguest.Seccomp;

/// <summary>
/// What a seccomp filter sees of one system call (the kernel's <c>struct seccomp_data</c>): its number, the
/// architecture it was made with, the instruction pointer and six arguments. The filter reads it by offset.
/// </summary>
internal readonly record struct SeccompData(int Number, uint Architecture, ulong InstructionPointer, ulong[] Arguments)
{
    public const uint NumberOffset = 0;        // offsetof(struct seccomp_data, nr)
    public const uint ArchitectureOffset = 4;  // offsetof(struct seccomp_data, arch)
    public const uint ArgumentsOffset = 16;    // offsetof(struct seccomp_data, args)
    public const int Size = 64;

    /// <summary>AUDIT_ARCH_X86_64, <c>linux/audit.h</c>: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.</summary>
    public const uint ArchX86_64 = 0xC000003E;

    /// <summary>__X32_SYSCALL_BIT: x32 calls share the architecture value but carry this bit in the number.</summary>
    public const uint X32SystemCallBit = 0x40000000;

    /// <summary>Offset of the low 32 bits of argument <paramref name="index"/> (x86-64 is little-endian).</summary>
    public static uint LowWordOfArgument(int index) => ArgumentsOffset + 8 * (uint)index;

    /// <summary>An x86-64 call of <paramref name="number"/> with <paramref name="arguments"/> (missing ones are 0).</summary>
    public static SeccompData X86_64(int number, params ulong[] arguments)
    {
        var args = new ulong[6];
        arguments.AsSpan(0, Math.Min(6, arguments.Length)).CopyTo(args);
        return new SeccompData(number, ArchX86_64, 0, args);
    }

    /// <summary>The 32-bit word the filter reads at <paramref name="offset"/>, as the kernel lays the struct out.</summary>
    public uint WordAt(uint offset)
    {
        if (offset % 4 != 0 || offset >= Size)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, "seccomp_data is 64 bytes read in aligned words");
        return offset switch
        {
            NumberOffset => (uint)Number,
            ArchitectureOffset => Architecture,
            8 => (uint)InstructionPointer,
            12 => (uint)(InstructionPointer >> 32),
            _ => (offset - ArgumentsOffset) % 8 == 0
                ? (uint)Arguments[(offset - ArgumentsOffset) / 8]
                : (uint)(Arguments[(offset - ArgumentsOffset) / 8] >> 32),
        };
    }
}
