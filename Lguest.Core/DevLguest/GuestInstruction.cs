namespace Lguest.DevLguest;

/// <summary>
/// One decoded guest instruction, reduced to what emulating it needs: the access, its width, the register
/// or immediate on the other side, and how far EIP advances.
/// </summary>
internal readonly record struct GuestInstruction
{
    /// <summary>The unsupported instruction: re-inject the fault.</summary>
    public static GuestInstruction Unsupported => default;

    /// <summary>What to do.</summary>
    public GuestInstructionKind Kind { get; init; }

    /// <summary>The instruction's length in bytes: EIP advances by it once the access is done.</summary>
    public int Length { get; init; }

    /// <summary>The access width in bytes: 1, 2 or 4.</summary>
    public int Width { get; init; }

    /// <summary>For port I/O, the immediate port, or -1 for the port in DX.</summary>
    public int Port { get; init; }

    /// <summary>The general register (ModRM numbering: 0 EAX .. 7 EDI) read or written; -1 for an immediate store.</summary>
    public int Register { get; init; }

    /// <summary>Whether <see cref="Register"/> names the high byte (AH, CH, DH, BH) of registers 0-3.</summary>
    public bool HighByte { get; init; }

    /// <summary>For a load, the destination register's width (wider than <see cref="Width"/> for <c>movzx</c>, which zero-extends).</summary>
    public int RegisterWidth { get; init; }

    /// <summary>For an immediate store, the value stored.</summary>
    public uint Immediate { get; init; }

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        GuestInstructionKind.PortIn or GuestInstructionKind.PortOut =>
            $"{Kind} width {Width} port {(Port < 0 ? "dx" : $"0x{Port:x}")} length {Length}",
        GuestInstructionKind.MmioRead or GuestInstructionKind.MmioWrite =>
            $"{Kind} width {Width} {(Register < 0 ? $"imm 0x{Immediate:x}" : $"reg {Register}{(HighByte ? "h" : "")}/{RegisterWidth}")} length {Length}",
        _ => $"{Kind} length {Length}",
    };
}
