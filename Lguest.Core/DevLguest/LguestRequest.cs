namespace Lguest.DevLguest;

/// <summary>
/// The first word of every write to /dev/lguest: <c>enum lguest_req</c> of include/linux/lguest_launcher.h
/// (Linux 4.x, the header's last form before lguest left the kernel in 4.14). The values are positional in
/// the C enum, so the retired requests keep their numbers here.
/// </summary>
internal enum LguestRequest : uint
{
    /// <summary>LHREQ_INITIALIZE: + base, pfnlimit, start, device_limit. Creates the guest and its vCPU 0.</summary>
    Initialize = 0,

    /// <summary>LHREQ_GETDMA: retired (2.6.23 era); the 4.x kernel answers EINVAL.</summary>
    GetDma = 1,

    /// <summary>LHREQ_IRQ: + irq. Marks an interrupt pending for the guest.</summary>
    Irq = 2,

    /// <summary>LHREQ_BREAK: retired; EINVAL.</summary>
    Break = 3,

    /// <summary>LHREQ_EVENTFD: retired; EINVAL.</summary>
    EventFd = 4,

    /// <summary>LHREQ_GETREG: + offset in the i386 <c>struct user_regs_struct</c>; the next read returns the value.</summary>
    GetReg = 5,

    /// <summary>LHREQ_SETREG: + offset, value.</summary>
    SetReg = 6,

    /// <summary>LHREQ_TRAP: + trap number to deliver to the guest (re-injects a fault the launcher cannot emulate).</summary>
    Trap = 7,
}
