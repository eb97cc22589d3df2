using System.Collections.Concurrent;
using Lguest.Hypervisor;

namespace Lguest.Devices;

/// <summary>
/// The thread-pool engine's I/O threads for one block queue (QEMU's <c>aio=threads</c>): the queue's worker posts
/// the slot of a request in flight, an I/O thread does its blocking call and posts the slot back with the result,
/// and <see cref="Completed"/> wakes the worker, which answers the driver. Threads start as requests in flight
/// need them, up to the bound, and live until the queue stops.
/// </summary>
/// <remarks>
/// <see cref="Post"/> and <see cref="TryTake"/> are called by the queue's worker only; the I/O threads touch a
/// slot only between its post and its completion, when the worker leaves it alone.
/// </remarks>
internal sealed class BlockIoThreads : IDisposable
{
    /// <summary>
    /// The most I/O threads one queue starts: each blocks in one call, so this bounds the requests a queue has
    /// at the disk at once (QEMU's pool allows 64 per I/O context; 32 covers the usual queue depths of one
    /// queue) and the threads' stacks.
    /// </summary>
    public const int MaxThreads = 32;

    private const int EIO = 5;

    private readonly string _name;
    private readonly Func<int, int> _perform;
    private readonly int _maxThreads;
    private readonly ConcurrentQueue<int> _jobs = new();
    private readonly ConcurrentQueue<(int Slot, int Result)> _done = new();
    private readonly SemaphoreSlim _posted = new(0);
    private readonly List<Thread> _threads = [];
    private volatile bool _stopping;
    private int _outstanding; // posted and not yet taken back: the worker's own count

    /// <param name="name">The queue's name, for the threads.</param>
    /// <param name="perform">Does the request in a slot with blocking calls; returns what io_uring would
    /// (bytes transferred, or a negative errno).</param>
    /// <param name="maxThreads">At most this many threads (up to <see cref="MaxThreads"/>).</param>
    public BlockIoThreads(string name, Func<int, int> perform, int maxThreads)
    {
        _name = name;
        _perform = perform;
        _maxThreads = Math.Clamp(maxThreads, 1, MaxThreads);
    }

    /// <summary>Signalled after each completion; <see cref="TryTake"/> takes them.</summary>
    public EventNotifier Completed { get; } = new();

    /// <summary>The threads started so far.</summary>
    public int ThreadCount => _threads.Count;

    /// <summary>Hands a slot to the I/O threads, starting one more when every thread has a request already.</summary>
    public void Post(int slot)
    {
        _outstanding++;
        if (_threads.Count < Math.Min(_maxThreads, _outstanding))
        {
            var thread = new Thread(Serve) { IsBackground = true, Name = $"{_name} io{_threads.Count}" };
            thread.Start();
            _threads.Add(thread);
        }
        _jobs.Enqueue(slot);
        _posted.Release();
    }

    /// <summary>Takes a completed slot and its result, if any.</summary>
    public bool TryTake(out int slot, out int result)
    {
        if (_done.TryDequeue(out (int Slot, int Result) done))
        {
            _outstanding--;
            (slot, result) = done;
            return true;
        }
        slot = result = 0;
        return false;
    }

    /// <summary>Ends the threads once their current call returns. Call when nothing is in flight.</summary>
    public void Dispose()
    {
        _stopping = true;
        if (_threads.Count != 0)
            _posted.Release(_threads.Count);
        foreach (Thread thread in _threads)
            thread.Join();
        _threads.Clear();
        _posted.Dispose();
        Completed.Dispose();
    }

    private void Serve()
    {
        while (true)
        {
            _posted.Wait();
            if (_stopping)
                return;
            if (!_jobs.TryDequeue(out int slot))
                continue;
            int result;
            try
            {
                result = _perform(slot);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // The calls report errors as results; whatever else escapes fails this request, not the process.
                result = -EIO;
            }
            _done.Enqueue((slot, result));
            Completed.Signal();
        }
    }
}
