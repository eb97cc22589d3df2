using Iced.Intel;

namespace Lguest.Tests.Support;

/// <summary>
/// Real i386 instruction bytes for the /dev/lguest scripts, assembled with Iced, padded as the Host copies
/// them: the seven bytes from EIP, the instruction followed by what comes next (here nops).
/// </summary>
internal static class GuestCode
{
    public static byte[] Assemble(Action<Assembler> emit)
    {
        var assembler = new Assembler(32);
        emit(assembler);
        using var stream = new MemoryStream();
        assembler.Assemble(new StreamCodeWriter(stream), 0);
        return stream.ToArray();
    }

    /// <summary>The instruction as insn[] carries it: its first seven bytes, nops after it.</summary>
    public static byte[] Pending(byte[] instruction)
    {
        byte[] bytes = Enumerable.Repeat((byte)0x90, 7).ToArray();
        instruction.AsSpan(0, Math.Min(7, instruction.Length)).CopyTo(bytes);
        return bytes;
    }

    public static byte[] Insn(Action<Assembler> emit) => Pending(Assemble(emit));
}
