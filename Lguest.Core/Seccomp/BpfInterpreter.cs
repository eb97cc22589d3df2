namespace Lguest.Seccomp;

/// <summary>
/// Runs a seccomp BPF program on a <see cref="SeccompData"/> the way the kernel does, for the instructions the
/// <see cref="SeccompFilterCompiler"/> emits, so a filter is tested on sample calls without installing it.
/// </summary>
internal static class BpfInterpreter
{
    /// <summary>The action <paramref name="program"/> returns for <paramref name="call"/>.</summary>
    /// <exception cref="InvalidOperationException">The program jumps out of itself, runs off its end or uses an instruction not handled here.</exception>
    public static uint Run(ReadOnlySpan<BpfInstruction> program, SeccompData call)
    {
        uint a = 0;
        int pc = 0;
        while (true)
        {
            if ((uint)pc >= (uint)program.Length)
                throw new InvalidOperationException($"the program runs off its end at {pc}");
            BpfInstruction i = program[pc];
            switch (i.Code)
            {
                case BpfInstruction.Ld | BpfInstruction.W | BpfInstruction.Abs:
                    a = call.WordAt(i.K);
                    pc++;
                    break;
                case BpfInstruction.Jmp | BpfInstruction.Jeq | BpfInstruction.K_:
                    pc += 1 + (a == i.K ? i.JumpIfTrue : i.JumpIfFalse);
                    break;
                case BpfInstruction.Jmp | BpfInstruction.Jge | BpfInstruction.K_:
                    pc += 1 + (a >= i.K ? i.JumpIfTrue : i.JumpIfFalse);
                    break;
                case BpfInstruction.Jmp | BpfInstruction.Ja:
                    pc += 1 + (int)i.K;
                    break;
                case BpfInstruction.Ret | BpfInstruction.K_:
                    return i.K;
                default:
                    throw new InvalidOperationException($"instruction 0x{i.Code:x4} at {pc} is not one the compiler emits");
            }
        }
    }
}
