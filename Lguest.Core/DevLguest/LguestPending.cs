using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Lguest.DevLguest;

/// <summary>
/// What a read of /dev/lguest returns when the guest needs the launcher: <c>struct lguest_pending { __u8 trap;
/// __u8 insn[7]; __u32 addr; }</c> of include/linux/lguest_launcher.h, 12 bytes with no padding. Trap 13 (#GP)
/// carries the faulting instruction's first bytes (port I/O the Host does not emulate itself); trap 14 (#PF)
/// carries them and the guest-physical address touched in the device window.
/// </summary>
internal readonly struct LguestPending
{
    /// <summary>sizeof(struct lguest_pending).</summary>
    public const int Size = 12;

    /// <summary>offsetof(struct lguest_pending, insn).</summary>
    public const int InstructionOffset = 1;

    /// <summary>The bytes of insn[]: the Host copies this many from the guest's EIP.</summary>
    public const int InstructionLength = 7;

    /// <summary>offsetof(struct lguest_pending, addr).</summary>
    public const int AddressOffset = 8;

    /// <summary>Trap 13: general protection fault (the guest kernel runs at ring 1, so in/out fault).</summary>
    public const byte GeneralProtection = 13;

    /// <summary>Trap 14: page fault in the device window [pfnlimit, device_limit).</summary>
    public const byte PageFault = 14;

    private readonly InstructionBytes _instruction;

    private LguestPending(byte trap, InstructionBytes instruction, uint address)
    {
        Trap = trap;
        _instruction = instruction;
        Address = address;
    }

    /// <summary>The trap number.</summary>
    public byte Trap { get; }

    /// <summary>For trap 14, the guest-physical address the guest touched.</summary>
    public uint Address { get; }

    /// <summary>The first bytes of the faulting instruction (insn[]), copied out of the guest by the Host.</summary>
    [UnscopedRef]
    public ReadOnlySpan<byte> Instruction => _instruction;

    /// <summary>Reads the structure out of the bytes a read returned (little-endian, as on i386).</summary>
    public static LguestPending Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Size)
            throw new ArgumentException($"struct lguest_pending is {Size} bytes", nameof(bytes));
        InstructionBytes instruction = default;
        bytes.Slice(InstructionOffset, InstructionLength).CopyTo(instruction);
        return new LguestPending(bytes[0], instruction, BinaryPrimitives.ReadUInt32LittleEndian(bytes[AddressOffset..]));
    }

    /// <summary>Writes the structure as the Host would (for the simulator in the tests).</summary>
    public static void Write(Span<byte> destination, byte trap, ReadOnlySpan<byte> instruction, uint address)
    {
        if (destination.Length < Size)
            throw new ArgumentException($"struct lguest_pending is {Size} bytes", nameof(destination));
        destination[..Size].Clear();
        destination[0] = trap;
        instruction[..Math.Min(instruction.Length, InstructionLength)].CopyTo(destination[InstructionOffset..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[AddressOffset..], address);
    }

    [InlineArray(InstructionLength)]
    private struct InstructionBytes
    {
        private byte _element0;
    }
}
