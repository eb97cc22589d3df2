namespace Lguest.Devices;

/// <summary>How a block device's queues do their I/O (Firecracker's io_engine, QEMU's aio=).</summary>
public enum VirtioBlockIoEngine
{
    /// <summary>
    /// The kernel's io_uring, driven directly through its system calls: each queue keeps up to
    /// <see cref="VirtioBlockOptions.MaxInFlight"/> requests in flight and publishes their completions in
    /// batches. Falls back to <see cref="Sync"/> (with a warning) where the kernel has no io_uring or
    /// forbids it.
    /// </summary>
    IoUring,

    /// <summary>
    /// A pool of I/O threads per queue, as QEMU's <c>aio=threads</c>: each queue keeps up to
    /// <see cref="VirtioBlockOptions.MaxInFlight"/> requests in flight, each on a thread of its own (at most 32
    /// threads, started as needed) doing blocking preadv/pwritev/fdatasync, and publishes their completions in
    /// batches. Works wherever the system calls do.
    /// </summary>
    Threads,

    /// <summary>One request at a time per queue, with blocking preadv/pwritev/fdatasync on the queue's worker thread.</summary>
    Sync,
}
