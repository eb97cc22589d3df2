using System.Buffers.Binary;

namespace Lguest.DevLguest;

/// <summary>
/// How requests to /dev/lguest are laid out in bytes. The kernel reads each word of a write with
/// <c>get_user(unsigned long)</c>, so the word is the kernel's <c>unsigned long</c>: 32 bits, little-endian,
/// because lguest's Host was i386-only (CONFIG_LGUEST depended on X86_32) and a 32-bit kernel runs only
/// 32-bit launchers. This class therefore speaks the i386 ABI whatever the process's own word size is:
/// a 64-bit process can never meet a real /dev/lguest, but it builds the same bytes, so the simulator in
/// the tests checks exactly what an i386 launcher would have written. A value that does not fit 32 bits
/// (a guest memory mapping above 4 GiB, which only a 64-bit process can have) is refused, never truncated.
/// </summary>
internal static class LguestAbi
{
    /// <summary>sizeof(unsigned long) on i386.</summary>
    public const int WordSize = 4;

    /// <summary>LHREQ_INITIALIZE and its four arguments.</summary>
    public const int InitializeSize = 5 * WordSize;

    /// <summary>LHREQ_IRQ, LHREQ_GETREG and LHREQ_TRAP: the request and one argument.</summary>
    public const int OneArgumentSize = 2 * WordSize;

    /// <summary>LHREQ_SETREG: the request, the offset and the value.</summary>
    public const int SetRegSize = 3 * WordSize;

    /// <summary>What a register read returns: one i386 unsigned long.</summary>
    public const int RegisterSize = WordSize;

    /// <summary>
    /// The longest death reason the launcher reads after ENOENT: the seed reads into a 1024-byte buffer
    /// less its terminating NUL; the kernel copies at most that many bytes of its message.
    /// </summary>
    public const int MaxDeathReason = 1023;

    /// <summary>Writes LHREQ_INITIALIZE {base, pfnlimit, start, device_limit}.</summary>
    public static void WriteInitialize(Span<byte> request, uint memoryBase, uint pfnLimit, uint start, uint deviceLimit)
    {
        WriteWords(request, InitializeSize, (uint)LguestRequest.Initialize, memoryBase, pfnLimit, start, deviceLimit);
    }

    /// <summary>Writes LHREQ_IRQ {irq}.</summary>
    public static void WriteIrq(Span<byte> request, uint irq) =>
        WriteWords(request, OneArgumentSize, (uint)LguestRequest.Irq, irq);

    /// <summary>Writes LHREQ_GETREG {offset}.</summary>
    public static void WriteGetReg(Span<byte> request, uint offset) =>
        WriteWords(request, OneArgumentSize, (uint)LguestRequest.GetReg, offset);

    /// <summary>Writes LHREQ_SETREG {offset, value}.</summary>
    public static void WriteSetReg(Span<byte> request, uint offset, uint value) =>
        WriteWords(request, SetRegSize, (uint)LguestRequest.SetReg, offset, value);

    /// <summary>Writes LHREQ_TRAP {trap}.</summary>
    public static void WriteTrap(Span<byte> request, uint trap) =>
        WriteWords(request, OneArgumentSize, (uint)LguestRequest.Trap, trap);

    /// <summary>
    /// Narrows a host value to the i386 word it must travel in, or throws: a host address above 4 GiB
    /// cannot be named to a 32-bit kernel, and truncating it would hand the kernel someone else's memory.
    /// </summary>
    public static uint ToWord(ulong value, string what)
    {
        if (value > uint.MaxValue)
            throw new Hypervisor.HypervisorException(
                $"/dev/lguest: {what} 0x{value:x} does not fit the 32-bit word of lguest's i386 ABI (only a 32-bit launcher can drive /dev/lguest)");
        return (uint)value;
    }

    private static void WriteWords(Span<byte> request, int size, params ReadOnlySpan<uint> words)
    {
        if (request.Length < size)
            throw new ArgumentException($"a request needs {size} bytes", nameof(request));
        for (int i = 0; i < words.Length; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(request[(i * WordSize)..], words[i]);
    }
}
