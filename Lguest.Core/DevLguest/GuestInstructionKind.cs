namespace Lguest.DevLguest;

/// <summary>What the launcher does with an instruction the Host handed over.</summary>
internal enum GuestInstructionKind
{
    /// <summary>Not one the launcher emulates: the fault goes back to the guest (LHREQ_TRAP).</summary>
    Unsupported,

    /// <summary><c>cli</c> at ring 1: skipped, as the seed does (early-boot cmpxchg8b emulation issues it unparavirtualized).</summary>
    ClearInterrupts,

    /// <summary><c>in</c> from an immediate or DX port into AL, AX or EAX.</summary>
    PortIn,

    /// <summary><c>out</c> of AL, AX or EAX to an immediate or DX port.</summary>
    PortOut,

    /// <summary>A load from the device window into a register (<c>mov</c>, <c>movzx</c>).</summary>
    MmioRead,

    /// <summary>A store of a register or an immediate into the device window (<c>mov</c>).</summary>
    MmioWrite,
}
