using Lguest.Memory;

namespace Lguest.Boot;

/// <summary>
/// A part of the kernel file to place in guest memory: <see cref="FileSize"/> bytes from
/// <see cref="FileOffset"/> to <see cref="Address"/>, then zeroes up to <see cref="MemorySize"/>
/// (an ELF PT_LOAD segment, or a bzImage's protected-mode code).
/// </summary>
internal sealed record KernelSegment(string Name, GuestAddress Address, long FileOffset, ulong FileSize, ulong MemorySize)
{
    public BootMemoryRange Range => new(Name, Address, MemorySize);
}
