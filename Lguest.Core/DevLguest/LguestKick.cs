using System.Runtime.InteropServices;
using Lguest.Hypervisor;
using Lguest.Interop;

namespace Lguest.DevLguest;

/// <summary>
/// Interrupts a vCPU thread blocked in a read of /dev/lguest: the Host's run loop returns -ERESTARTSYS when a
/// signal is pending, and with a handler installed without SA_RESTART the read then fails with EINTR.
/// </summary>
/// <remarks>
/// The KVM backend's kick (SIG_IGN, unblocked only inside KVM_RUN through KVM_SET_SIGNAL_MASK) cannot serve
/// here: /dev/lguest has no signal-mask request, and an ignored unblocked signal is discarded before it can
/// interrupt anything. So this signal (SIGRTMIN+7, one past the KVM kick's) gets a real handler, and that
/// handler is native code doing nothing: libc's <c>abs</c>, a pure function of its int argument, which is the
/// signal number. A managed handler would be unsafe: should the signal land while the thread runs managed
/// code, the runtime fails fast on a reverse P/Invoke from cooperative mode. A kick that lands outside the
/// read is absorbed by the handler and lost, so callers repeat it until the read returns.
/// </remarks>
internal static unsafe class LguestKick
{
    private const int OffsetFromRtMin = 7;
    private static readonly Lock InitLock = new();
    private static int _signal;

    /// <summary>The kick signal's number, installing its handler on first use.</summary>
    public static int Signal
    {
        get
        {
            int signal = Volatile.Read(ref _signal);
            return signal != 0 ? signal : Initialize();
        }
    }

    /// <summary>Sends the kick to thread <paramref name="threadId"/> of this process.</summary>
    public static void Send(int threadId)
    {
        // ESRCH (the thread is gone) is fine: there is nothing left to interrupt.
        _ = Libc.TgKill(Libc.GetPid(), threadId, Signal);
    }

    private static int Initialize()
    {
        lock (InitLock)
        {
            if (_signal != 0)
                return _signal;
            int signal = Libc.CurrentSigRtMin() + OffsetFromRtMin;
            if (signal > Libc.CurrentSigRtMax())
                throw new HypervisorException($"no real-time signal free for /dev/lguest kicks (SIGRTMIN+{OffsetFromRtMin} > SIGRTMAX)");
            nint libc = NativeLibrary.Load("libc.so.6");
            // No SA_RESTART: the point of the signal is that the read fails with EINTR instead of restarting.
            var action = new Libc.SigAction { Handler = NativeLibrary.GetExport(libc, "abs") };
            // Safety: action lives on this stack frame for the call; the old action is not wanted.
            if (Libc.SigActionSet(signal, &action, null) != 0)
                throw HypervisorException.FromErrno("sigaction", Marshal.GetLastPInvokeError());
            Volatile.Write(ref _signal, signal);
            return signal;
        }
    }
}
