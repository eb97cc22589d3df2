using System.Runtime.InteropServices;
using Lguest.Interop;
using Lguest.Machine;

namespace Lguest.Seccomp;

/// <summary>
/// Installs a <see cref="SeccompPolicy"/> on every thread of the process (SECCOMP_FILTER_FLAG_TSYNC), after
/// PR_SET_NO_NEW_PRIVS, as Firecracker does before its guest runs. Under <see cref="SeccompMode.On"/> a call
/// outside the policy traps (SECCOMP_RET_TRAP) into a SIGSYS handler of machine code that writes one line
/// naming it and its first arguments to standard error and ends the process with SIGSYS (no core dump of guest
/// memory). Under <see cref="SeccompMode.Log"/> it is handed to a listener thread (SECCOMP_RET_USER_NOTIF) that
/// names each distinct call once and lets it run (a kernel before 5.7 has no listener: log mode is refused).
/// </summary>
/// <remarks>
/// Call it from <see cref="LauncherOptions.BeforeFirstRun"/>, after every host resource is open: from then on
/// the process can only make the calls in the policy, for good. A policy is a list of allowed calls; an
/// application that adds devices needing more adds their calls to <see cref="SeccompPolicy.ForLauncher"/>'s.
/// </remarks>
public static class SeccompFilter
{
    /// <summary>Installs <paramref name="policy"/> under <paramref name="mode"/> (nothing for <see cref="SeccompMode.Off"/>).</summary>
    /// <exception cref="ConfinementException">The kernel refused the filter; the message says why.</exception>
    public static unsafe void Install(SeccompPolicy policy, SeccompMode mode)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (mode == SeccompMode.Off)
            return;
        ProcessConfinement.ForbidNewPrivileges();
        // Under a JIT, the first use of a type may load its assembly (openat): load them all while that is allowed.
        ProcessConfinement.LoadWhatTheRunNeeds();
        if (mode == SeccompMode.On)
        {
            SigsysHandler.Install();
            if (Load(SeccompFilterCompiler.Compile(policy, SeccompFilterCompiler.ReturnTrap), Libc.SeccompFilterFlagTsync, out int refused) < 0)
                throw new ConfinementException($"seccomp filter refused: {Marshal.GetPInvokeErrorMessage(refused)}");
            return;
        }
        var listener = new SeccompListener();
        listener.Start();
        int fd = Load(SeccompFilterCompiler.Compile(policy, SeccompFilterCompiler.ReturnUserNotify),
            Libc.SeccompFilterFlagTsync | Libc.SeccompFilterFlagTsyncEsrch | Libc.SeccompFilterFlagNewListener,
            out int error);
        if (fd >= 0)
        {
            listener.Attach(fd);
            return;
        }
        listener.Abandon();
        throw new ConfinementException($"seccomp filter refused: {Marshal.GetPInvokeErrorMessage(error)} (--seccomp=log needs a listener, Linux 5.7 or later)");
    }

    private static unsafe int Load(BpfInstruction[] program, uint flags, out int error)
    {
        fixed (BpfInstruction* filter = program)
        {
            var fprog = new Libc.SockFprog { Length = (ushort)program.Length, Filter = filter };
            long result = Libc.SystemCall(Libc.SysSeccomp, Libc.SeccompSetModeFilter, flags, (nuint)(&fprog));
            error = result < 0 ? Marshal.GetLastPInvokeError() : 0;
            // With TSYNC and no listener, a positive result is the id of a thread that could not be synchronized.
            if (result > 0 && (flags & Libc.SeccompFilterFlagNewListener) == 0)
                throw new ConfinementException($"seccomp filter: thread {result} could not take the filter");
            return (int)result;
        }
    }
}
