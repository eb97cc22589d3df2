namespace Lguest.Virtio;

/// <summary>
/// How long a device worker keeps looking at its available ring, after it has drained it, before it
/// asks the driver for a notification and sleeps: an adaptive window in the manner of QEMU's
/// AioContext polling (poll-max-ns) and vhost-net's busyloop. Waking a sleeping thread costs tens of
/// microseconds on a host whose idle cores halt; a driver that publishes its next requests within the
/// window is seen without that wake-up, and without the notification exit that a sleeping device would
/// have asked for.
/// </summary>
/// <remarks>
/// <para>
/// The window adapts on every wait, as QEMU's <c>adjust_polling_time</c>: the time from the start of
/// the wait to the arrival of work (the "blocked" time) is compared with the window and the maximum.
/// Work found while polling leaves the window as it is. Work that arrived after the window but within
/// <see cref="Max"/> doubles it (from zero to <see cref="InitialWindow"/>), up to <see cref="Max"/>:
/// polling a little longer would have caught it. Work that arrived later than <see cref="Max"/> halves
/// it (below <see cref="InitialWindow"/>, to zero): polling would not have caught it at all. A worker
/// polls only right after it served work, so an idle device spends no CPU on it; the spin allocates
/// nothing and reads the clock and the ring's index alone.
/// </para>
/// <para>One worker thread owns an instance; it is not safe for concurrent use.</para>
/// </remarks>
public sealed class PollWindow
{
    /// <summary>The default <see cref="Max"/>: 32 µs, QEMU's poll-max-ns.</summary>
    public static readonly TimeSpan DefaultMax = TimeSpan.FromMicroseconds(32);

    /// <summary>The largest <see cref="Max"/> accepted: beyond a millisecond a worker is no longer polling but burning a core.</summary>
    public static readonly TimeSpan MaxLimit = TimeSpan.FromMilliseconds(1);

    /// <summary>The window a growing window starts from: 4 µs, as QEMU's.</summary>
    public static readonly TimeSpan InitialWindow = TimeSpan.FromMicroseconds(4);

    private readonly TimeProvider _clock;
    private readonly long _maxTicks;
    private readonly long _initialTicks;
    private long _windowTicks;

    /// <summary>Creates a window that starts closed (0) and may grow to <paramref name="max"/>.</summary>
    /// <param name="max">The longest poll; <see cref="TimeSpan.Zero"/> never polls.</param>
    /// <param name="clock">The monotonic clock (<see cref="TimeProvider.GetTimestamp"/>); null for the system's.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="max"/> is negative or above <see cref="MaxLimit"/>.</exception>
    public PollWindow(TimeSpan max, TimeProvider? clock = null)
    {
        if (max < TimeSpan.Zero || max > MaxLimit)
            throw new ArgumentOutOfRangeException(nameof(max), max, $"the poll time must be from 0 to {MaxLimit.TotalMicroseconds} µs");
        _clock = clock ?? TimeProvider.System;
        Max = max;
        _maxTicks = ToTicks(max);
        _initialTicks = Math.Min(ToTicks(InitialWindow), _maxTicks);
    }

    /// <summary>
    /// A window for a device worker on this host: <paramref name="max"/>, or never polling when the
    /// process may run on a single CPU, where a spinning worker could only delay the vCPU thread that
    /// would publish the work it waits for.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="max"/> is negative or above <see cref="MaxLimit"/>.</exception>
    public static PollWindow ForWorker(TimeSpan max) => new(Environment.ProcessorCount > 1 ? max : TimeSpan.Zero);

    /// <summary>The longest the window may grow to.</summary>
    public TimeSpan Max { get; }

    /// <summary>Whether this window ever polls (<see cref="Max"/> is not zero).</summary>
    public bool IsEnabled => _maxTicks > 0;

    /// <summary>The current window: how long the next wait will poll before it sleeps.</summary>
    public TimeSpan Current => _clock.GetElapsedTime(0, _windowTicks);

    /// <summary>The clock's reading at the start of a wait.</summary>
    internal long Now() => _clock.GetTimestamp();

    /// <summary>Whether the current window has passed since <paramref name="start"/>, at <paramref name="now"/>.</summary>
    internal bool HasExpired(long start, long now) => now - start >= _windowTicks;

    /// <summary>Whether the current window is open at all.</summary>
    internal bool IsOpen => _windowTicks > 0;

    /// <summary>
    /// Adapts the window to a wait that started at <paramref name="start"/> and ended, with work, at
    /// <paramref name="end"/> (after polling alone, or after sleeping).
    /// </summary>
    internal void Adjust(long start, long end)
    {
        long blocked = end - start;
        if (blocked <= _windowTicks)
            return; // found while polling: the window is right
        if (blocked > _maxTicks)
        {
            // Polling up to the maximum would not have caught it: poll less.
            long shrunk = _windowTicks / 2;
            _windowTicks = shrunk < _initialTicks ? 0 : shrunk;
        }
        else if (_windowTicks < _maxTicks)
        {
            // A longer poll would have caught it: poll longer.
            long grown = _windowTicks == 0 ? _initialTicks : _windowTicks * 2;
            _windowTicks = Math.Min(grown, _maxTicks);
        }
    }

    private long ToTicks(TimeSpan span) => (long)Math.Ceiling(span.Ticks * (double)_clock.TimestampFrequency / TimeSpan.TicksPerSecond);
}
