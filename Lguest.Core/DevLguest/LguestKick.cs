using System.Runtime.InteropServices;
using Lguest.Hypervisor;

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
internal static class LguestKick
{
    // The KVM kick's offset plus one.
    private static readonly RealTimeSignal Kick = new(7, "/dev/lguest kicks",
        () => NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "abs"));

    /// <summary>The kick signal's number, installing its handler on first use.</summary>
    public static int Signal => Kick.Number;

    /// <summary>Sends the kick to thread <paramref name="threadId"/> of this process.</summary>
    public static void Send(int threadId) => Kick.SendTo(threadId);
}
