namespace Lguest.Tests.Support;

/// <summary>
/// A monotonic clock in nanoseconds that moves only when read: each <see cref="GetTimestamp"/> returns
/// the current time, then advances it by <see cref="Step"/>. An action can be hung on the first reading
/// at or past a given time (a driver publishing a chain at that moment), so a poll loop's timing is
/// deterministic.
/// </summary>
internal sealed class ScriptedClock(TimeSpan step) : TimeProvider
{
    private long _now = 1_000_000; // not zero, so a wait starting at 0 is not special
    private (long At, Action Action)? _pending;

    public TimeSpan Step { get; set; } = step;

    /// <summary>How many times the clock was read.</summary>
    public int Reads { get; private set; }

    public override long TimestampFrequency => 1_000_000_000;

    /// <summary>
    /// Runs <paramref name="action"/> at the first reading at least <paramref name="delay"/> after the
    /// next one (the next reading is "now"), just before that reading returns.
    /// </summary>
    public void Schedule(TimeSpan delay, Action action) => _pending = (_now + delay.Ticks * 100, action);

    public override long GetTimestamp()
    {
        Reads++;
        long now = _now;
        _now += Step.Ticks * 100;
        if (_pending is { } pending && now >= pending.At)
        {
            _pending = null;
            pending.Action();
        }
        return now;
    }
}
