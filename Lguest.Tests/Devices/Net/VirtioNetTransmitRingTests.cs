using Lguest.Devices;
using Lguest.Devices.Interop;
using Lguest.Interop;
using Lguest.Seccomp;
using Lguest.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Lguest.Tests.Devices.Net;

/// <summary>
/// Transmit on the notifying thread with that thread's own io_uring (<see cref="VcpuTapRing"/>, issue 20): the frames
/// of a notification leave in one submission, in order; a frame the tap refuses (its queue full) goes to the worker
/// with the ones after it and the thread never waits; a thread without io_uring writes with writev; a thread's ring is
/// closed once the thread has ended. The "vCPU" of each test is a thread of its own, so its ring is its own too.
/// </summary>
public class VirtioNetTransmitRingTests
{
    private const int Attempts = 20;

    [Test]
    public void A_notification_s_frames_leave_in_order_in_one_submission_of_the_notifying_thread_s_ring()
    {
        InlineServing.RequireIoUring();
        using var bed = new NetTestBed();
        const int Frames = 16;
        int batches = 0;
        TransmitRig.OnThread("vCPU", () =>
        {
            for (int attempt = 0; attempt < Attempts; attempt++)
            {
                InlineServing.WaitForTheWorkerToSleep(bed.TxQueue!);
                VcpuTapRing? ring = VcpuTapRing.OfCurrentThread;
                long submissions = ring?.Submissions ?? 0, submitted = ring?.Frames ?? 0;
                ushort before = bed.Tx.UsedIndex;
                for (int f = 0; f < Frames; f++)
                    bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost([(byte)attempt, (byte)f])));
                bed.KickTransmitFromVcpu();
                bool onThisThread = (ushort)(bed.Tx.UsedIndex - before) == Frames;
                bed.Tx.WaitForUsed(bed.Transport, Frames);
                for (int f = 0; f < Frames; f++)
                    Assert.That(bed.HostReceive(), Is.EqualTo(new byte[] { (byte)attempt, (byte)f }), $"datagram {f} of attempt {attempt}, in order");
                if (!onThisThread)
                    continue; // the worker was awake (a stale wake-up): it took them
                ring = VcpuTapRing.OfCurrentThread;
                Assert.That(ring, Is.Not.Null, "served on this thread with its own ring");
                Assert.That(ring!.Submissions - submissions, Is.EqualTo(1), $"attempt {attempt}: one io_uring_enter for the notification");
                Assert.That(ring.Frames - submitted, Is.EqualTo(Frames), $"attempt {attempt}: every frame in it");
                if (Environment.OSVersion.Version >= new Version(6, 1))
                    Assert.That(ring.Deferred, Is.True, "SINGLE_ISSUER | DEFER_TASKRUN on Linux 6.1 and later");
                batches++;
            }
        });
        Assert.That(batches, Is.GreaterThan(Attempts / 2), $"of {Attempts} notifications, {batches} were served on the notifying thread");
        Assert.That(bed.Counters.TransmittedPackets, Is.EqualTo((long)Attempts * Frames));
        Assert.That(bed.Counters.TotalDrops, Is.Zero);
    }

    [TestCase(false)] // room for a few frames: the first the tap refuses and the ones after it go to the worker
    [TestCase(true)]  // the tap full before the notification: all of them go to the worker
    public void Frames_a_full_tap_refuses_go_to_the_worker_in_order_and_the_notifying_thread_never_waits(bool fullBefore)
    {
        InlineServing.RequireIoUring();
        using var bed = new NetTestBed(activate: false);
        using var rig = new TransmitRig(bed, socketPair: true);
        const int Frames = 24;
        int handedOff = 0;
        for (int attempt = 0; attempt < 5 && handedOff == 0; attempt++)
        {
            int filler = fullBefore ? rig.FillPair() : 0;
            InlineServing.WaitForTheWorkerToSleep(rig.Queue);
            ushort before = bed.Tx.UsedIndex;
            var frames = new List<byte[]>();
            for (int f = 0; f < Frames; f++)
            {
                byte[] frame = EthernetFrames.Pattern(600, attempt * Frames + f);
                frames.Add(frame);
                bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(frame));
            }
            bed.Tx.Publish();
            long submissions = 0;
            int answeredOnReturn = 0;
            // The notification returns with nobody reading the pair: whatever the tap refused is left, not waited for.
            TransmitRig.OnThread("vCPU", () =>
            {
                rig.Queue.Notify();
                answeredOnReturn = (ushort)(bed.Tx.UsedIndex - before);
                submissions = VcpuTapRing.OfCurrentThread?.Submissions ?? 0;
            });
            if (submissions == 1)
            {
                Assert.That(answeredOnReturn, Is.LessThan(Frames), "the pair cannot take 24 frames of 600 bytes");
                if (fullBefore)
                    Assert.That(answeredOnReturn, Is.Zero, "the pair was full: no frame went");
                handedOff++;
            }

            for (int i = 0; i < filler; i++)
                Assert.That(rig.Receive(), Has.Length.EqualTo(100), "the filler first");
            for (int f = 0; f < Frames; f++)
                Assert.That(rig.Receive(), Is.EqualTo([.. NetTestBed.Header(), .. frames[f]]), $"attempt {attempt}: frame {f}, in order");
            bed.Tx.WaitForUsed(bed.Transport, Frames);
        }
        Assert.That(handedOff, Is.EqualTo(1), "one notification served on its thread within 5 tries");
        Assert.That(bed.Counters.TotalDrops, Is.Zero);
        Assert.That(bed.Transport.BadDrivers, Is.Empty);
        Assert.That(bed.Transport.DeviceFailures, Is.Empty);
    }

    [Test]
    public void A_pause_with_the_tap_full_returns_and_answers_every_frame_the_notifying_thread_took()
    {
        InlineServing.RequireIoUring();
        using var bed = new NetTestBed(activate: false);
        using var rig = new TransmitRig(bed, socketPair: true);
        rig.FillPair();
        InlineServing.WaitForTheWorkerToSleep(rig.Queue);
        ushort before = bed.Tx.UsedIndex;
        for (int f = 0; f < 8; f++)
            bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(EthernetFrames.Pattern(600, f)));
        bed.Tx.Publish();
        TransmitRig.OnThread("vCPU", rig.Queue.Notify);
        // Nobody drains the pair: the worker waits on it for the frames left to it, until the pause stops it.
        TransmitRig.OnThread("pause", rig.Workers.PauseAndJoin);
        int taken = 8 - rig.Queue.Ring.AvailableCount();
        Assert.That((ushort)(bed.Tx.UsedIndex - before), Is.EqualTo(taken), "every frame the device took is answered by the pause");
        Assert.That(taken, Is.GreaterThan(0));
    }

    [Test]
    public void A_thread_refused_io_uring_writes_each_frame_with_writev_and_it_is_logged_once()
    {
        InlineServing.RequireIoUring(); // so the refusal below is the only one in this process
        using var bed = new NetTestBed(activate: false);
        using var rig = new TransmitRig(bed, socketPair: false);
        int onTheThreads = 0;
        for (int thread = 0; thread < 2; thread++)
        {
            TransmitRig.OnThread($"vCPU {thread} without io_uring", () =>
            {
                RefuseIoUringOnThisThread();
                Assert.That(IoUring.TryCreate(4, out int errno), Is.Null, "io_uring_setup is refused on this thread");
                Assert.That(errno, Is.EqualTo(1), "EPERM");
                for (int attempt = 0; attempt < Attempts / 2; attempt++)
                {
                    InlineServing.WaitForTheWorkerToSleep(rig.Queue);
                    ushort before = bed.Tx.UsedIndex;
                    for (int f = 0; f < 4; f++)
                        bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost([(byte)thread, (byte)attempt, (byte)f])));
                    bed.Tx.Publish();
                    rig.Queue.Notify();
                    if ((ushort)(bed.Tx.UsedIndex - before) == 4)
                        onTheThreads++;
                    bed.Tx.WaitForUsed(bed.Transport, 4);
                    for (int f = 0; f < 4; f++)
                        Assert.That(bed.HostReceive(), Is.EqualTo(new byte[] { (byte)thread, (byte)attempt, (byte)f }), $"thread {thread}, attempt {attempt}, datagram {f}");
                }
                Assert.That(VcpuTapRing.OfCurrentThread, Is.Null, "no ring on a thread refused io_uring");
            });
        }
        Assert.That(onTheThreads, Is.GreaterThan(Attempts / 2), $"of {Attempts} notifications, {onTheThreads} were served on the notifying threads");
        Assert.That(bed.Counters.TransmittedPackets, Is.EqualTo(Attempts * 4L));
        Assert.That(rig.Logger.Entries.Count(e => e.Id.Id == 3304 && e.Level == LogLevel.Warning), Is.EqualTo(1),
            "one warning for two threads refused");
    }

    [Test]
    public void A_thread_s_ring_is_closed_once_the_thread_has_ended_across_start_and_stop_cycles()
    {
        InlineServing.RequireIoUring();
        using var bed = new NetTestBed();
        for (int cycle = 0; cycle < 5; cycle++)
        {
            InlineServing.WaitForTheWorkerToSleep(bed.TxQueue!); // its own ring is open
            int rings = TransmitRig.IoUringDescriptors();
            TransmitRig.OnThread($"vCPU {cycle}", () =>
            {
                for (int attempt = 0; attempt < Attempts && VcpuTapRing.OfCurrentThread is null; attempt++)
                {
                    InlineServing.WaitForTheWorkerToSleep(bed.TxQueue!);
                    bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost([(byte)cycle, (byte)attempt])));
                    bed.KickTransmitFromVcpu();
                    bed.Tx.WaitForUsed(bed.Transport);
                    Assert.That(bed.HostReceive(), Is.EqualTo(new byte[] { (byte)cycle, (byte)attempt }));
                }
                Assert.That(VcpuTapRing.OfCurrentThread, Is.Not.Null, "a notification was served on this thread");
                Assert.That(TransmitRig.IoUringDescriptors(), Is.EqualTo(rings + 1), "the thread's ring, while it lives");
            });
            // The thread has ended; its ring goes when the worker next stops (here a pause; a machine's end in the
            // launcher, after its vCPU threads were joined). A paused machine's live vCPUs keep theirs.
            bed.Device.Pause();
            bed.Device.Resume();
            InlineServing.WaitForTheWorkerToSleep(bed.TxQueue!);
            Assert.That(TransmitRig.IoUringDescriptors(), Is.EqualTo(rings), $"cycle {cycle}: no io_uring descriptor left behind");
        }
    }

    [Test]
    public void Serving_a_notification_with_the_ring_allocates_nothing_once_warm()
    {
        InlineServing.RequireIoUring();
        using var bed = new NetTestBed();
        int measured = 0;
        TransmitRig.OnThread("vCPU", () =>
        {
            for (int attempt = 0; attempt < Attempts; attempt++)
            {
                InlineServing.WaitForTheWorkerToSleep(bed.TxQueue!);
                ushort before = bed.Tx.UsedIndex;
                for (int f = 0; f < 16; f++)
                    bed.Tx.Add(bed.Tx.Readable(NetTestBed.Header()), bed.Tx.Readable(bed.GuestToHost(new byte[100 + f])));
                bed.Tx.Publish();

                long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
                bed.TxQueue!.Notify();
                long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

                bool onThisThread = (ushort)(bed.Tx.UsedIndex - before) == 16;
                bed.Tx.WaitForUsed(bed.Transport, 16);
                for (int f = 0; f < 16; f++)
                    bed.HostReceive();
                if (onThisThread && attempt >= 3)
                {
                    Assert.That(allocated, Is.Zero, $"bytes allocated serving notification {attempt}");
                    measured++;
                }
            }
        });
        Assert.That(measured, Is.GreaterThan(Attempts / 2), "notifications measured on the notifying thread");
    }

    // A seccomp filter on the calling thread alone (no TSYNC) that answers io_uring_setup with EPERM, as a launcher's
    // policy or a container's could: the thread ends with the test.
    private static unsafe void RefuseIoUringOnThisThread()
    {
        BpfInstruction* program = stackalloc BpfInstruction[]
        {
            BpfInstruction.LoadWord(0), // seccomp_data.nr
            BpfInstruction.JumpIfEqual((uint)IoUringLibc.SysIoUringSetup, 0, 1),
            BpfInstruction.Return(0x00050000u | 1), // SECCOMP_RET_ERRNO | EPERM
            BpfInstruction.Return(0x7fff0000u),     // SECCOMP_RET_ALLOW
        };
        var fprog = new Libc.SockFprog { Length = 4, Filter = program };
        Assert.That(Libc.Prctl(Libc.PrSetNoNewPrivs, 1, 0, 0, 0), Is.Zero, "PR_SET_NO_NEW_PRIVS");
        Assert.That(Libc.SystemCall(Libc.SysSeccomp, Libc.SeccompSetModeFilter, 0, (nuint)(&fprog)), Is.Zero, "seccomp(SET_MODE_FILTER)");
    }
}
