using System.Runtime.InteropServices;
using Lguest.Devices.Interop;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// The io_uring a thread that serves transmit notifications inline (a vCPU's) writes its frames with: one per
/// thread, created by that thread at its first notification, used by it alone, and closed only once the thread has
/// ended (<see cref="CloseEnded"/>).
/// </summary>
/// <remarks>
/// Why a ring of its own, kept for the thread's life: a thread that ever submitted to a ring is sent task work
/// (TWA_SIGNAL) when that ring is torn down (io_ring_exit_work walks the ring's list of tasks), which reaches a vCPU
/// thread inside KVM_RUN: an exit for nothing, and on kvm_pvm hosts a guest frozen until the next signal (seen with
/// the worker's ring, torn down at every pause). A thread that has exited is on no ring's list any more (do_exit
/// cancels its io_uring state), so a ring closed after its thread reaches no vCPU. While the thread lives it is sent
/// nothing either: its writes carry RWF_NOWAIT, so each completes, or fails with EAGAIN, inside the io_uring_enter that
/// submits it, and that call waits for all of them; with IORING_SETUP_DEFER_TASKRUN (Linux 6.1) the kernel's completion
/// work (starting a link's next write) runs only in that wait, and IORING_SETUP_SINGLE_ISSUER lets it skip the locking
/// a shared ring needs. Where io_uring is missing or refused (an old kernel, a seccomp filter, io_uring_disabled), the
/// thread writes with writev, as before; that is logged once per process.
/// </remarks>
internal sealed unsafe class VcpuTapRing
{
    /// <summary>Frames one submission takes at most.</summary>
    public const int Entries = 64;

    [ThreadStatic]
    private static VcpuTapRing? t_ring;

    [ThreadStatic]
    private static bool t_refused;

    private static readonly Lock s_lock = new();
    private static readonly List<VcpuTapRing> s_open = []; // every ring not yet closed
    private static int s_warned;

    private readonly Thread _owner;
    private bool _closed;

    private VcpuTapRing(IoUring uring, bool deferred)
    {
        Uring = uring;
        Deferred = deferred;
        _owner = Thread.CurrentThread;
        Vectors = (IoVec*)NativeMemory.AllocZeroed((nuint)(Entries * NetTransmitter.SlotVectors), (nuint)sizeof(IoVec));
    }

    /// <summary>The ring; only its thread submits to it.</summary>
    public IoUring Uring { get; }

    /// <summary>The iovecs of a submission: <see cref="NetTransmitter.SlotVectors"/> per frame, read by the kernel only within it.</summary>
    public IoVec* Vectors { get; }

    /// <summary>Whether the ring was set up with SINGLE_ISSUER and DEFER_TASKRUN (Linux 6.1 on).</summary>
    public bool Deferred { get; }

    /// <summary>Submissions made (one io_uring_enter each), for tests and diagnostics.</summary>
    public long Submissions { get; private set; }

    /// <summary>Frames submitted in them.</summary>
    public long Frames { get; private set; }

    /// <summary>How many rings are open in this process (for tests: closed ones are not counted).</summary>
    public static int OpenCount
    {
        get
        {
            lock (s_lock)
                return s_open.Count;
        }
    }

    /// <summary>Whether the calling thread has a ring (it served a notification with one).</summary>
    public static VcpuTapRing? OfCurrentThread => t_ring;

    /// <summary>
    /// The calling thread's ring, set up at its first call; null where this thread cannot have one (io_uring missing or
    /// refused: asked once per thread, warned once per process).
    /// </summary>
    public static VcpuTapRing? ForCurrentThread(ILogger logger, string device)
    {
        if (t_ring is { } ring)
            return ring;
        if (t_refused)
            return null;
        // Rings of threads that have ended since go first: a reboot's new vCPU threads close their predecessors'.
        CloseEnded();
        const uint deferred = IoUringLibc.SetupSingleIssuer | IoUringLibc.SetupDeferTaskrun;
        bool withFlags = true;
        IoUring? uring = IoUring.TryCreate(Entries, deferred, out int errno);
        if (uring is null && errno == IoUringLibc.EINVAL)
        {
            withFlags = false; // a kernel before 6.1: the same ring, its completion work run as task work in our wait
            uring = IoUring.TryCreate(Entries, out errno);
        }
        if (uring is null)
        {
            t_refused = true;
            if (Interlocked.Exchange(ref s_warned, 1) == 0)
                logger.VcpuRingRefused(device, Marshal.GetPInvokeErrorMessage(errno));
            return null;
        }
        ring = new VcpuTapRing(uring, withFlags);
        lock (s_lock)
            s_open.Add(ring);
        t_ring = ring;
        return ring;
    }

    /// <summary>Counts one submission of <paramref name="frames"/> frames.</summary>
    public void Submitted(int frames)
    {
        Submissions++;
        Frames += frames;
    }

    /// <summary>
    /// Closes the rings whose threads have ended; returns how many. Called when a transmitter's worker ends (the device
    /// stopped, reset or paused: at a machine's end the vCPU threads were joined before its devices stop) and before a
    /// thread sets up a ring. A ring whose thread lives stays open.
    /// </summary>
    public static int CloseEnded()
    {
        int closed = 0;
        lock (s_lock)
        {
            for (int i = s_open.Count - 1; i >= 0; i--)
            {
                VcpuTapRing ring = s_open[i];
                if (ring._owner.IsAlive)
                    continue;
                s_open.RemoveAt(i);
                ring.Close();
                closed++;
            }
        }
        return closed;
    }

    // Only once its thread has ended: nothing submits to it, nothing is in flight (every submission was reaped).
    private void Close()
    {
        if (_closed)
            return;
        _closed = true;
        Uring.Dispose();
        NativeMemory.Free(Vectors);
    }
}
