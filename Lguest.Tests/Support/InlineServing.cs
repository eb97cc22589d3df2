using Lguest.Devices.Interop;
using Lguest.Virtio;

namespace Lguest.Tests.Support;

/// <summary>What the tests of queues served on the notifying thread (<see cref="DeviceWorkers.ServeNotificationsInline"/>) share.</summary>
internal static class InlineServing
{
    private const int PatienceMilliseconds = 10_000;

    /// <summary>
    /// Returns once <paramref name="queue"/>'s worker is asleep. The worker lets the queue go only while it sleeps:
    /// once the queue can be taken, it is asleep (or between two sleeps, woken by a stale signal: then the next
    /// notification goes to it, which the callers allow for).
    /// </summary>
    public static void WaitForTheWorkerToSleep(Virtqueue queue)
    {
        long deadline = Environment.TickCount64 + PatienceMilliseconds;
        while (!queue.Owner.TryEnter())
        {
            if (Environment.TickCount64 > deadline)
                Assert.Fail("the worker never let the queue go");
            Thread.Sleep(1);
        }
        queue.Owner.Exit();
    }

    /// <summary>Ignores the test where this host's kernel (or its seccomp policy) gives no io_uring.</summary>
    public static void RequireIoUring()
    {
        using IoUring? ring = IoUring.TryCreate(4, out int errno);
        if (ring is null)
            Assert.Ignore($"io_uring is not available here (errno {errno})");
    }
}
