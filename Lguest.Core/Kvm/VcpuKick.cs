using System.Runtime.InteropServices;
using Lguest.Hypervisor;
using Lguest.Interop;

namespace Lguest.Kvm;

/// <summary>
/// Kicks a vCPU thread out of a blocked KVM_RUN from another thread, as QEMU and kvmtool do: a
/// real-time signal sent to that thread makes KVM_RUN return EINTR.
/// </summary>
/// <remarks>
/// The signal is SIGRTMIN+6 (<see cref="RealTimeSignal"/>). It never reaches user space: each vCPU thread keeps
/// it blocked and lets KVM unblock it only while the guest runs (KVM_SET_SIGNAL_MASK), then drains it with
/// sigtimedwait. Its
/// disposition is SIG_IGN rather than a handler: a blocked signal is queued even when ignored
/// (kernel/signal.c sig_ignored() checks blocked and real_blocked first), which is all KVM needs,
/// and a stray one sent to another thread is dropped. A managed handler (UnmanagedCallersOnly) would
/// be unsafe here: if it ever ran on a thread executing managed code, the runtime would fail fast on
/// the reverse P/Invoke from cooperative mode.
/// </remarks>
internal static unsafe class VcpuKick
{
    private static readonly RealTimeSignal Kick = new(6, "vCPU kicks", () => Libc.SigIgn);

    /// <summary>The kick signal's number, installing its disposition on first use.</summary>
    public static int Signal => Kick.Number;

    /// <summary>
    /// Blocks the kick signal on the calling thread (the vCPU thread) and returns the kernel signal
    /// mask KVM_RUN should run with: the thread's mask without the kick signal.
    /// </summary>
    public static ulong BlockOnCurrentThread()
    {
        int signal = Signal;
        Libc.SigSet set = Libc.SigSet.Of(signal);
        Libc.SigSet old;
        // Safety: both sets live on this stack frame for the call.
        int rc = Libc.PthreadSigmask(Libc.SigBlock, &set, &old);
        if (rc != 0)
            throw HypervisorException.FromErrno("pthread_sigmask", rc);
        return old.Word0 & ~set.Word0;
    }

    /// <summary>Sends the kick to thread <paramref name="threadId"/> of this process.</summary>
    public static void Send(int threadId) => Kick.SendTo(threadId);

    /// <summary>Consumes every pending kick on the calling thread, so the next KVM_RUN is not interrupted by an old one.</summary>
    public static void Drain()
    {
        Libc.SigSet set = Libc.SigSet.Of(Signal);
        var zero = new Libc.TimeSpec();
        // Safety: set and zero live on this stack frame; sigtimedwait with a zero timeout never blocks.
        while (Libc.SigTimedWait(&set, null, &zero) > 0)
        {
        }
    }
}
