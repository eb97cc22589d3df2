using System.Runtime.InteropServices;
using System.Text;
using Lguest.Interop;

namespace Lguest.Seccomp;

/// <summary>
/// What <c>--seccomp=on</c> does with a call outside the policy: the filter returns SECCOMP_RET_TRAP, the kernel
/// sends SIGSYS to the thread that made the call, and this handler, machine code assembled from
/// <c>SigsysHandler.S</c> beside this file (where each step is explained), writes one line naming the call and
/// its first three arguments, then ends the process with SIGSYS.
/// </summary>
/// <remarks>
/// Machine code, not managed code, and not a listener thread: the call may come from the runtime itself (the
/// garbage collector asking for the memory load while it holds its lock, a thread-suspension signal handler),
/// where any managed code, or any other thread that allocates, would wait on that thread forever. A bed run
/// stopped exactly so when the listener that preceded this handler waited on the GC's lock. The handler and
/// its table are built before the filter and never freed: a call may come at any moment after.
/// </remarks>
internal static unsafe class SigsysHandler
{
    // gcc -c SigsysHandler.S && objcopy -O binary -j .text: SigsysHandlerTests checks these bytes against it.
    internal static ReadOnlySpan<byte> Code =>
    [
        0x48, 0x81, 0xEC, 0x08, 0x01, 0x00, 0x00, 0x49, 0x89, 0xD0, 0x49, 0xB9, 0x88, 0x77, 0x66, 0x55,
        0x44, 0x33, 0x22, 0x11, 0x8B, 0x46, 0x18, 0x49, 0x8B, 0x09, 0x48, 0x39, 0xC8, 0x72, 0x04, 0x48,
        0x8D, 0x41, 0xFF, 0x48, 0xC1, 0xE0, 0x04, 0x49, 0x8B, 0x74, 0x01, 0x18, 0x49, 0x8B, 0x4C, 0x01,
        0x20, 0x48, 0x89, 0xE7, 0xF3, 0xA4, 0xC6, 0x07, 0x28, 0x48, 0xFF, 0xC7, 0x4D, 0x8B, 0x50, 0x68,
        0xE8, 0xBD, 0x00, 0x00, 0x00, 0x66, 0xC7, 0x07, 0x2C, 0x20, 0x48, 0x83, 0xC7, 0x02, 0x4D, 0x8B,
        0x50, 0x70, 0xE8, 0xAB, 0x00, 0x00, 0x00, 0x66, 0xC7, 0x07, 0x2C, 0x20, 0x48, 0x83, 0xC7, 0x02,
        0x4D, 0x8B, 0x90, 0x88, 0x00, 0x00, 0x00, 0xE8, 0x96, 0x00, 0x00, 0x00, 0xC6, 0x07, 0x29, 0x48,
        0xFF, 0xC7, 0x49, 0x8B, 0x71, 0x08, 0x49, 0x8B, 0x49, 0x10, 0xF3, 0xA4, 0x48, 0x89, 0xFA, 0x48,
        0x89, 0xE6, 0x48, 0x29, 0xF2, 0xBF, 0x02, 0x00, 0x00, 0x00, 0xB8, 0x01, 0x00, 0x00, 0x00, 0x0F,
        0x05, 0xBF, 0x04, 0x00, 0x00, 0x00, 0x31, 0xF6, 0x31, 0xD2, 0x45, 0x31, 0xD2, 0x45, 0x31, 0xC0,
        0xB8, 0x9D, 0x00, 0x00, 0x00, 0x0F, 0x05, 0x31, 0xC0, 0x48, 0x89, 0x04, 0x24, 0x48, 0x89, 0x44,
        0x24, 0x08, 0x48, 0x89, 0x44, 0x24, 0x10, 0x48, 0x89, 0x44, 0x24, 0x18, 0xBF, 0x1F, 0x00, 0x00,
        0x00, 0x48, 0x89, 0xE6, 0x31, 0xD2, 0x41, 0xBA, 0x08, 0x00, 0x00, 0x00, 0xB8, 0x0D, 0x00, 0x00,
        0x00, 0x0F, 0x05, 0xB8, 0x27, 0x00, 0x00, 0x00, 0x0F, 0x05, 0x41, 0x89, 0xC4, 0xB8, 0xBA, 0x00,
        0x00, 0x00, 0x0F, 0x05, 0x89, 0xC6, 0x44, 0x89, 0xE7, 0xBA, 0x1F, 0x00, 0x00, 0x00, 0xB8, 0xEA,
        0x00, 0x00, 0x00, 0x0F, 0x05, 0xBF, 0x9F, 0x00, 0x00, 0x00, 0xB8, 0xE7, 0x00, 0x00, 0x00, 0x0F,
        0x05, 0xF4, 0x66, 0xC7, 0x07, 0x30, 0x78, 0x48, 0x83, 0xC7, 0x02, 0xB9, 0x3C, 0x00, 0x00, 0x00,
        0x31, 0xD2, 0x4C, 0x89, 0xD0, 0x48, 0xD3, 0xE8, 0x83, 0xE0, 0x0F, 0x85, 0xD2, 0x75, 0x0A, 0x85,
        0xC0, 0x75, 0x06, 0x85, 0xC9, 0x74, 0x02, 0xEB, 0x15, 0xBA, 0x01, 0x00, 0x00, 0x00, 0x83, 0xF8,
        0x0A, 0x72, 0x03, 0x83, 0xC0, 0x27, 0x83, 0xC0, 0x30, 0x88, 0x07, 0x48, 0xFF, 0xC7, 0x83, 0xE9,
        0x04, 0x79, 0xCF, 0xC3,
    ];

    /// <summary>Where the table's address goes: the 64-bit immediate of the movabs at offset 10.</summary>
    internal const int TableAddressOffset = 12;

    /// <summary>One entry per x86-64 call number below this; a number at or above it takes the last entry.</summary>
    internal const int Entries = 512;

    private const int SaSigInfo = 4;            // SA_SIGINFO, <asm/signal.h>
    private const int SaNoDefer = 0x40000000;   // SA_NODEFER: the handler's own SIGSYS is not blocked, so it kills
    private const int PageSize = 4096;

    internal const string Suffix = " is outside the policy: killed (SIGSYS)\n";

    private static nint s_installed;

    /// <summary>Installs the handler for SIGSYS (once per process).</summary>
    /// <exception cref="Machine.ConfinementException">mmap, mprotect or sigaction failed.</exception>
    public static void Install()
    {
        if (s_installed != 0)
            return;
        nint table = BuildTable();
        nint page = Libc.Mmap(0, PageSize, Libc.ProtRead | Libc.ProtWrite, Libc.MapPrivate | Libc.MapAnonymous, -1, 0);
        if (page == Libc.MapFailed)
            throw Failed("mmap");
        var bytes = new Span<byte>((void*)page, PageSize);
        Code.CopyTo(bytes);
        MemoryMarshal.Write(bytes[TableAddressOffset..], (long)table);
        // Written, then executable and no longer writable.
        if (Libc.Mprotect(page, PageSize, Libc.ProtRead | Libc.ProtExec) != 0)
            throw Failed("mprotect");
        var action = new Libc.SigAction { Handler = page, Flags = SaSigInfo | SaNoDefer };
        if (Libc.SigActionSet(Libc.SIGSYS, &action, null) != 0)
            throw Failed("sigaction");
        s_installed = page;
    }

    /// <summary>
    /// The table the handler reads: entry count, the suffix, then per call number the line's start,
    /// "lguest: seccomp: NAME", in native memory that is never freed.
    /// </summary>
    internal static nint BuildTable()
    {
        var text = new List<byte>();
        var starts = new (int Offset, int Length)[Entries];
        for (int number = 0; number < Entries; number++)
        {
            string name = number == Entries - 1 ? $"syscall {Entries - 1} or above" : SystemCallNames.Of(number);
            byte[] line = Encoding.ASCII.GetBytes($"lguest: seccomp: {name}");
            starts[number] = (text.Count, line.Length);
            text.AddRange(line);
        }
        byte[] suffix = Encoding.ASCII.GetBytes(Suffix);
        int suffixOffset = text.Count;
        text.AddRange(suffix);

        int header = 3 * sizeof(long) + Entries * 2 * sizeof(long);
        nint table = (nint)NativeMemory.Alloc((nuint)(header + text.Count));
        long* fields = (long*)table;
        byte* strings = (byte*)table + header;
        fields[0] = Entries;
        fields[1] = (long)(strings + suffixOffset);
        fields[2] = suffix.Length;
        for (int number = 0; number < Entries; number++)
        {
            fields[3 + 2 * number] = (long)(strings + starts[number].Offset);
            fields[4 + 2 * number] = starts[number].Length;
        }
        text.ToArray().CopyTo(new Span<byte>(strings, text.Count));
        return table;
    }

    private static Machine.ConfinementException Failed(string call) =>
        new($"seccomp: {call} for the SIGSYS handler failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
}
