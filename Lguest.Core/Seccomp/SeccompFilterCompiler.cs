namespace Lguest.Seccomp;

/// <summary>
/// Turns a <see cref="SeccompPolicy"/> into the classic BPF program the kernel runs on every system call:
/// a call made with another architecture's convention is killed (its numbers mean other calls), an x32 call
/// is denied, then each rule is tried in order, and a call no rule matches gets the deny action.
/// </summary>
/// <remarks>
/// Each rule is a compare on the number, then either a return or a jump over the rule's argument block. The
/// block is reached through an unconditional jump, whose offset is 32 bits, so a rule may list more values than
/// the one-byte offsets of a conditional jump could skip.
/// </remarks>
internal static class SeccompFilterCompiler
{
    public const uint ReturnKillProcess = 0x80000000; // SECCOMP_RET_KILL_PROCESS, <linux/seccomp.h>
    public const uint ReturnErrno = 0x00050000;       // SECCOMP_RET_ERRNO (| errno in the low 16 bits)
    public const uint ReturnUserNotify = 0x7FC00000;  // SECCOMP_RET_USER_NOTIF
    public const uint ReturnTrap = 0x00030000;        // SECCOMP_RET_TRAP: SIGSYS to the calling thread
    public const uint ReturnAllow = 0x7FFF0000;       // SECCOMP_RET_ALLOW

    /// <summary>The largest program the kernel loads (BPF_MAXINSNS).</summary>
    public const int MaxInstructions = 4096;

    /// <summary>The program for <paramref name="policy"/>, returning <paramref name="denyAction"/> for a call outside it.</summary>
    /// <exception cref="InvalidOperationException">The program would be longer than the kernel accepts.</exception>
    public static BpfInstruction[] Compile(SeccompPolicy policy, uint denyAction)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var program = new List<BpfInstruction>
        {
            BpfInstruction.LoadWord(SeccompData.ArchitectureOffset),
            BpfInstruction.JumpIfEqual(SeccompData.ArchX86_64, 1, 0),
            BpfInstruction.Return(ReturnKillProcess),
            BpfInstruction.LoadWord(SeccompData.NumberOffset),
            BpfInstruction.JumpIfAtLeast(SeccompData.X32SystemCallBit, 0, 1),
            BpfInstruction.Return(denyAction),
        };
        foreach (SystemCallRule rule in policy.Rules)
        {
            if (rule.Error is { } error)
            {
                program.Add(BpfInstruction.JumpIfEqual((uint)rule.Number, 0, 1));
                program.Add(BpfInstruction.Return(ReturnErrno | (uint)error));
            }
            else if (rule.Argument is not { } argument)
            {
                program.Add(BpfInstruction.JumpIfEqual((uint)rule.Number, 0, 1));
                program.Add(BpfInstruction.Return(ReturnAllow));
            }
            else
            {
                // Block: load the argument, allow each listed value, else deny. Reached by skipping the jump over it.
                int blockLength = 1 + 2 * rule.AllowedValues.Count + 1;
                program.Add(BpfInstruction.JumpIfEqual((uint)rule.Number, 1, 0));
                program.Add(new BpfInstruction(BpfInstruction.Jmp | BpfInstruction.Ja, 0, 0, (uint)blockLength));
                program.Add(BpfInstruction.LoadWord(SeccompData.LowWordOfArgument(argument)));
                foreach (uint value in rule.AllowedValues)
                {
                    program.Add(BpfInstruction.JumpIfEqual(value, 0, 1));
                    program.Add(BpfInstruction.Return(ReturnAllow));
                }
                program.Add(BpfInstruction.Return(denyAction));
            }
        }
        program.Add(BpfInstruction.Return(denyAction));
        if (program.Count > MaxInstructions)
            throw new InvalidOperationException($"the seccomp program has {program.Count} instructions; the kernel loads at most {MaxInstructions}");
        return [.. program];
    }
}
