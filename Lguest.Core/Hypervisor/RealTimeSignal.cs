using System.Runtime.InteropServices;
using Lguest.Interop;

namespace Lguest.Hypervisor;

/// <summary>
/// A real-time signal this process sends to its own threads to interrupt a blocking call (a vCPU's KVM_RUN, a read
/// of /dev/lguest), with its disposition installed on first use. The number is SIGRTMIN plus a fixed offset: the
/// .NET runtime uses SIGRTMIN itself (INJECT_ACTIVATION_SIGNAL, for GC suspension), glibc reserves the two below it,
/// and nothing in the runtime touches the rest, so each kick gets an offset of its own.
/// </summary>
internal sealed unsafe class RealTimeSignal
{
    private readonly int _offsetFromRtMin;
    private readonly string _purpose;
    private readonly Func<nint> _disposition;
    private readonly Lock _initLock = new();
    private int _number;

    /// <param name="offsetFromRtMin">Which signal: SIGRTMIN plus this.</param>
    /// <param name="purpose">What it is for, in the error when no such signal exists ("vCPU kicks").</param>
    /// <param name="disposition">The handler (or SIG_IGN) to install, asked for once, at first use.</param>
    public RealTimeSignal(int offsetFromRtMin, string purpose, Func<nint> disposition)
    {
        _offsetFromRtMin = offsetFromRtMin;
        _purpose = purpose;
        _disposition = disposition;
    }

    /// <summary>The signal's number, installing its disposition on first use.</summary>
    /// <exception cref="HypervisorException">The system has no such signal, or sigaction failed.</exception>
    public int Number
    {
        get
        {
            int number = Volatile.Read(ref _number);
            return number != 0 ? number : Initialize();
        }
    }

    /// <summary>Sends the signal to thread <paramref name="threadId"/> of this process.</summary>
    public void SendTo(int threadId)
    {
        // ESRCH (the thread is gone) is fine: there is nothing left to interrupt.
        _ = Libc.TgKill(Libc.GetPid(), threadId, Number);
    }

    private int Initialize()
    {
        lock (_initLock)
        {
            if (_number != 0)
                return _number;
            int number = Libc.CurrentSigRtMin() + _offsetFromRtMin;
            if (number > Libc.CurrentSigRtMax())
                throw new HypervisorException($"no real-time signal free for {_purpose} (SIGRTMIN+{_offsetFromRtMin} > SIGRTMAX)");
            // No SA_RESTART: a call the signal interrupts fails with EINTR instead of restarting.
            var action = new Libc.SigAction { Handler = _disposition() };
            // Safety: action lives on this stack frame for the call; the old action is not wanted.
            if (Libc.SigActionSet(number, &action, null) != 0)
                throw HypervisorException.FromErrno("sigaction", Marshal.GetLastPInvokeError());
            Volatile.Write(ref _number, number);
            return number;
        }
    }
}
