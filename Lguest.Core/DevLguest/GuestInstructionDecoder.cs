using Iced.Intel;

namespace Lguest.DevLguest;

/// <summary>
/// Decodes the instruction bytes of a <see cref="LguestPending"/> with Iced's 32-bit decoder (the lguest guest
/// is an i386 kernel) and keeps only the forms the launcher emulates. Everything else, including an
/// instruction longer than the seven bytes the Host copies (the decoder then runs out of bytes), is
/// <see cref="GuestInstructionKind.Unsupported"/> and goes back to the guest as the fault it was.
/// </summary>
/// <remarks>
/// Port I/O (#GP): <c>in</c>/<c>out</c> with an imm8 or DX port, 8/16/32-bit (the 0x66 prefix selects 16),
/// as the seed's emulate_insn; the string forms <c>ins</c>/<c>outs</c> are not emulated, also as the seed.
/// MMIO (#PF): <c>mov</c> between a general register and memory in both directions at 8/16/32 bits
/// (88, 89, 8A, 8B, and A0-A3 with an absolute address), <c>mov</c> of an immediate to memory (C6, C7), and
/// <c>movzx</c> from memory (0F B6, 0F B7). The seed handles 88/89/8A/8B with an optional 0x66, which is
/// what Linux's readb/readw/readl and writeb/writew/writel compile to (inline asm "mov"); the rest costs
/// nothing with a real decoder and covers compilers that fold a constant or an absolute address.
/// One instance per vCPU: the decoder keeps state between calls.
/// </remarks>
internal sealed class GuestInstructionDecoder
{
    private readonly PendingBytesReader _reader = new();
    private readonly Decoder _decoder;

    public GuestInstructionDecoder() => _decoder = Decoder.Create(32, _reader, DecoderOptions.None);

    /// <summary>Decodes a port I/O instruction, or <c>cli</c>, that raised #GP.</summary>
    public GuestInstruction DecodePortIo(ReadOnlySpan<byte> bytes)
    {
        if (!TryDecode(bytes, out Instruction instruction))
            return GuestInstruction.Unsupported;
        if (instruction.Mnemonic == Mnemonic.Cli)
            return new GuestInstruction { Kind = GuestInstructionKind.ClearInterrupts, Length = instruction.Length };

        (GuestInstructionKind kind, int width, bool immediatePort) = instruction.Code switch
        {
            Code.In_AL_imm8 => (GuestInstructionKind.PortIn, 1, true),
            Code.In_AX_imm8 => (GuestInstructionKind.PortIn, 2, true),
            Code.In_EAX_imm8 => (GuestInstructionKind.PortIn, 4, true),
            Code.In_AL_DX => (GuestInstructionKind.PortIn, 1, false),
            Code.In_AX_DX => (GuestInstructionKind.PortIn, 2, false),
            Code.In_EAX_DX => (GuestInstructionKind.PortIn, 4, false),
            Code.Out_imm8_AL => (GuestInstructionKind.PortOut, 1, true),
            Code.Out_imm8_AX => (GuestInstructionKind.PortOut, 2, true),
            Code.Out_imm8_EAX => (GuestInstructionKind.PortOut, 4, true),
            Code.Out_DX_AL => (GuestInstructionKind.PortOut, 1, false),
            Code.Out_DX_AX => (GuestInstructionKind.PortOut, 2, false),
            Code.Out_DX_EAX => (GuestInstructionKind.PortOut, 4, false),
            _ => (GuestInstructionKind.Unsupported, 0, false),
        };
        // A LOCK prefix makes in/out #UD on hardware: let the guest have its fault.
        if (kind == GuestInstructionKind.Unsupported || instruction.HasLockPrefix)
            return GuestInstruction.Unsupported;
        return new GuestInstruction
        {
            Kind = kind,
            Length = instruction.Length,
            Width = width,
            Port = immediatePort ? instruction.Immediate8 : -1,
            Register = 0,
            RegisterWidth = width,
        };
    }

    /// <summary>Decodes an instruction that raised #PF in the device window.</summary>
    public GuestInstruction DecodeMmio(ReadOnlySpan<byte> bytes)
    {
        if (!TryDecode(bytes, out Instruction instruction) || instruction.HasLockPrefix || instruction.OpCount != 2)
            return GuestInstruction.Unsupported;
        OpKind destination = instruction.Op0Kind, source = instruction.Op1Kind;

        if (instruction.Mnemonic == Mnemonic.Mov)
        {
            if (destination == OpKind.Memory && source == OpKind.Register)
                return Store(instruction, instruction.Op1Register);
            if (destination == OpKind.Register && source == OpKind.Memory)
                return Load(instruction, instruction.Op0Register, instruction.MemorySize.GetSize());
            if (destination == OpKind.Memory && source is OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32)
            {
                int width = instruction.MemorySize.GetSize();
                if (width is not (1 or 2 or 4))
                    return GuestInstruction.Unsupported;
                return new GuestInstruction
                {
                    Kind = GuestInstructionKind.MmioWrite,
                    Length = instruction.Length,
                    Width = width,
                    Register = -1,
                    Immediate = (uint)instruction.GetImmediate(1),
                };
            }
        }
        else if (instruction.Mnemonic == Mnemonic.Movzx && destination == OpKind.Register && source == OpKind.Memory)
        {
            return Load(instruction, instruction.Op0Register, instruction.MemorySize.GetSize());
        }
        return GuestInstruction.Unsupported;
    }

    private bool TryDecode(ReadOnlySpan<byte> bytes, out Instruction instruction)
    {
        _reader.Reset(bytes);
        _decoder.IP = 0;
        _decoder.Decode(out instruction);
        // Invalid covers both undefined encodings and an instruction cut off by the end of insn[].
        return !instruction.IsInvalid && _decoder.LastError == DecoderError.None;
    }

    private static GuestInstruction Store(in Instruction instruction, Register register)
    {
        if (!TryMapRegister(register, out int number, out bool high, out int width))
            return GuestInstruction.Unsupported;
        return new GuestInstruction
        {
            Kind = GuestInstructionKind.MmioWrite,
            Length = instruction.Length,
            Width = width,
            Register = number,
            HighByte = high,
            RegisterWidth = width,
        };
    }

    private static GuestInstruction Load(in Instruction instruction, Register register, int accessWidth)
    {
        if (!TryMapRegister(register, out int number, out bool high, out int width) ||
            accessWidth is not (1 or 2 or 4) || accessWidth > width)
            return GuestInstruction.Unsupported;
        return new GuestInstruction
        {
            Kind = GuestInstructionKind.MmioRead,
            Length = instruction.Length,
            Width = accessWidth,
            Register = number,
            HighByte = high,
            RegisterWidth = width,
        };
    }

    /// <summary>
    /// Maps an Iced general register to its ModRM number and width. Segment, control and debug registers
    /// (mov Sreg, mov CRn) are not MMIO forms; in 32-bit mode no REX register can appear.
    /// </summary>
    private static bool TryMapRegister(Register register, out int number, out bool highByte, out int width)
    {
        highByte = false;
        if (register.IsGPR32())
        {
            number = register - Register.EAX;
            width = 4;
        }
        else if (register.IsGPR16())
        {
            number = register - Register.AX;
            width = 2;
        }
        else if (register.IsGPR8())
        {
            // Iced orders AL, CL, DL, BL, AH, CH, DH, BH as x86 encodes them without REX.
            number = register - Register.AL;
            width = 1;
            if (number is >= 4 and <= 7)
            {
                highByte = true;
                number -= 4;
            }
        }
        else
        {
            number = -1;
            width = 0;
            return false;
        }
        return number is >= 0 and <= 7;
    }

    /// <summary>Feeds the decoder the seven bytes of insn[], then reports the end of the bytes.</summary>
    private sealed class PendingBytesReader : CodeReader
    {
        private readonly byte[] _bytes = new byte[LguestPending.InstructionLength];
        private int _length;
        private int _position;

        public void Reset(ReadOnlySpan<byte> bytes)
        {
            _length = Math.Min(bytes.Length, _bytes.Length);
            bytes[.._length].CopyTo(_bytes);
            _position = 0;
        }

        public override int ReadByte() => _position < _length ? _bytes[_position++] : -1;
    }
}
