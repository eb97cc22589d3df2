using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Virtio;

/// <summary>
/// <see cref="Vring.WaitForAvailable(EventNotifier, EventNotifier, PollWindow)"/> with a poll window on a
/// scripted clock. The stop notifier is signalled before each wait and the queue's notifier never is,
/// so a wait that goes to sleep returns false at once: "returned true" means the chain was found
/// without sleeping.
/// </summary>
public class VringPollingTests
{
    private const ushort Start = 5; // both indices start here, so avail_event = 5 shows it was written

    private GuestMemory _memory = null!;
    private EventNotifier _notifier = null!;
    private EventNotifier _stop = null!;

    [SetUp]
    public void Allocate()
    {
        _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        _notifier = new EventNotifier();
        _stop = new EventNotifier();
        _stop.Signal();
    }

    [TearDown]
    public void Free()
    {
        _stop.Dispose();
        _notifier.Dispose();
        _memory.Dispose();
    }

    private RingBuilder EventIndexRing() =>
        new RingBuilder(_memory, 8, VirtioFeatures.RingEventIndex).Descriptor(0, 0x8000, 1).StartAt(Start);

    // Opens the window to 4, 8, 16, ... µs by reporting waits whose work came just within the maximum.
    private static PollWindow OpenedWindow(ScriptedClock clock, TimeSpan max, int growths)
    {
        var window = new PollWindow(max, clock);
        for (int i = 0; i < growths; i++)
            window.Adjust(0, (long)max.TotalNanoseconds);
        return window;
    }

    [Test]
    public void Polling_finds_a_chain_published_without_a_notification_within_the_window()
    {
        var clock = new ScriptedClock(TimeSpan.FromMicroseconds(1));
        PollWindow window = OpenedWindow(clock, TimeSpan.FromMicroseconds(32), 4);
        RingBuilder ring = EventIndexRing();
        Vring vring = ring.Build();
        clock.Schedule(TimeSpan.FromMicroseconds(20), () => ring.MakeAvailable(0));

        Assert.That(vring.WaitForAvailable(_notifier, _stop, window), Is.True, "found by polling, without sleeping");
        Assert.That(ring.AvailEvent, Is.Zero, "avail_event was never written: the driver was not asked to notify");
        Assert.That(window.Current, Is.EqualTo(TimeSpan.FromMicroseconds(32)), "work within the window leaves it as it is");
        Assert.That(vring.TryPop(out DescriptorChain chain) && chain.Head == 0, Is.True);
    }

    [Test]
    public void Without_event_index_polling_keeps_VRING_USED_F_NO_NOTIFY_set()
    {
        var clock = new ScriptedClock(TimeSpan.FromMicroseconds(1));
        PollWindow window = OpenedWindow(clock, TimeSpan.FromMicroseconds(32), 4);
        var ring = new RingBuilder(_memory, 8).Descriptor(0, 0x8000, 1);
        Vring vring = ring.Build();
        vring.DisableNotifications();
        bool flagSeenClear = false;
        clock.Schedule(TimeSpan.FromMicroseconds(10), () =>
        {
            flagSeenClear = ring.UsedFlags == 0;
            ring.MakeAvailable(0);
        });

        Assert.That(vring.WaitForAvailable(_notifier, _stop, window), Is.True);
        Assert.That(flagSeenClear, Is.False, "the driver saw VRING_USED_F_NO_NOTIFY while the device polled");
    }

    [Test]
    public void A_chain_published_when_the_window_ends_is_found_by_the_check_after_re_enabling_notifications()
    {
        var clock = new ScriptedClock(TimeSpan.FromMicroseconds(1));
        PollWindow window = OpenedWindow(clock, TimeSpan.FromMicroseconds(32), 1); // 4 µs
        RingBuilder ring = EventIndexRing();
        Vring vring = ring.Build();
        // Published as the clock says the window has passed: the poll has looked at the ring for the last time.
        clock.Schedule(TimeSpan.FromMicroseconds(4), () => ring.MakeAvailable(0));

        Assert.That(vring.WaitForAvailable(_notifier, _stop, window), Is.True, "found after re-enabling notifications, not lost to a sleep");
        Assert.That(ring.AvailEvent, Is.EqualTo(Start), "notifications were re-enabled (avail_event written) before the last look");
        Assert.That(window.Current, Is.EqualTo(TimeSpan.FromMicroseconds(8)), "work just after the window, within the maximum, doubles it");
    }

    [Test]
    public void A_zero_maximum_never_polls_nor_reads_the_clock()
    {
        var clock = new ScriptedClock(TimeSpan.FromMicroseconds(1));
        var window = new PollWindow(TimeSpan.Zero, clock);
        RingBuilder ring = EventIndexRing();
        Vring vring = ring.Build();

        Assert.That(vring.WaitForAvailable(_notifier, _stop, window), Is.False, "went to sleep at once (and was stopped)");
        Assert.That(clock.Reads, Is.Zero);
        Assert.That(ring.AvailEvent, Is.EqualTo(Start), "notifications were enabled before sleeping");
        Assert.That(window.Current, Is.EqualTo(TimeSpan.Zero));
    }

    [Test]
    public void A_closed_window_sleeps_at_once_reading_the_clock_only_to_time_the_wait()
    {
        var clock = new ScriptedClock(TimeSpan.FromMicroseconds(1));
        var window = new PollWindow(TimeSpan.FromMicroseconds(32), clock);
        RingBuilder ring = EventIndexRing();
        Vring vring = ring.Build();

        Assert.That(window.Current, Is.EqualTo(TimeSpan.Zero), "a window starts closed");
        Assert.That(vring.WaitForAvailable(_notifier, _stop, window), Is.False);
        Assert.That(clock.Reads, Is.EqualTo(1), "one reading at the start of the wait, none in a poll loop");
    }

    [Test]
    public void A_wait_whose_work_comes_within_the_maximum_opens_the_window_and_one_whose_work_comes_later_closes_it()
    {
        var clock = new ScriptedClock(TimeSpan.FromMicroseconds(10));
        var window = new PollWindow(TimeSpan.FromMicroseconds(32), clock);
        RingBuilder ring = EventIndexRing();
        Vring vring = ring.Build();

        // Closed window: the chain comes as the wait starts, the wait ends 10 µs later.
        clock.Schedule(TimeSpan.Zero, () => ring.MakeAvailable(0));
        Assert.That(vring.WaitForAvailable(_notifier, _stop, window), Is.True);
        Assert.That(window.Current, Is.EqualTo(TimeSpan.FromMicroseconds(4)), "10 µs is within the 32 µs maximum: 0 -> 4 µs");
        Assert.That(vring.TryPop(out _), Is.True);

        // A 4 µs poll that gives up; the chain comes 40 µs after the start, the wait ends at 80 µs.
        clock.Step = TimeSpan.FromMicroseconds(40);
        clock.Schedule(TimeSpan.FromMicroseconds(40), () => ring.MakeAvailable(0));
        Assert.That(vring.WaitForAvailable(_notifier, _stop, window), Is.True);
        Assert.That(window.Current, Is.EqualTo(TimeSpan.Zero), "later than the maximum: 4 -> 2 µs, below 4 µs, so closed");
    }

    [Test]
    public void The_window_doubles_from_4_µs_up_to_the_maximum_while_work_comes_within_the_maximum()
    {
        var window = new PollWindow(TimeSpan.FromMicroseconds(32), new ScriptedClock(TimeSpan.Zero));
        var seen = new List<double>();
        for (int i = 0; i < 6; i++)
        {
            window.Adjust(0, 30_000); // 30 µs: past the window, within the maximum
            seen.Add(window.Current.TotalMicroseconds);
        }
        Assert.That(seen, Is.EqualTo(new double[] { 4, 8, 16, 32, 32, 32 }));
    }

    [Test]
    public void The_window_halves_when_work_comes_later_than_the_maximum_and_closes_below_4_µs()
    {
        var window = new PollWindow(TimeSpan.FromMicroseconds(32), new ScriptedClock(TimeSpan.Zero));
        for (int i = 0; i < 4; i++)
            window.Adjust(0, 30_000);
        var seen = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            window.Adjust(0, 33_000); // 33 µs: polling to the maximum would not have caught it
            seen.Add(window.Current.TotalMicroseconds);
        }
        Assert.That(seen, Is.EqualTo(new double[] { 16, 8, 4, 0, 0 }));
    }

    [Test]
    public void Work_found_within_the_window_leaves_it_as_it_is()
    {
        var window = new PollWindow(TimeSpan.FromMicroseconds(32), new ScriptedClock(TimeSpan.Zero));
        window.Adjust(0, 30_000);
        window.Adjust(0, 30_000); // 8 µs
        window.Adjust(0, 8_000);
        Assert.That(window.Current, Is.EqualTo(TimeSpan.FromMicroseconds(8)));
    }

    [Test]
    public void A_maximum_below_4_µs_is_the_first_and_only_window()
    {
        var window = new PollWindow(TimeSpan.FromMicroseconds(2), new ScriptedClock(TimeSpan.Zero));
        window.Adjust(0, 1_500);
        Assert.That(window.Current, Is.EqualTo(TimeSpan.FromMicroseconds(2)));
        window.Adjust(0, 1_800);
        Assert.That(window.Current, Is.EqualTo(TimeSpan.FromMicroseconds(2)));
    }

    [TestCase(-1)]
    [TestCase(1001)]
    public void A_maximum_outside_0_to_1_ms_is_refused(int microseconds)
    {
        Assert.That(() => new PollWindow(TimeSpan.FromMicroseconds(microseconds)), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void On_the_system_clock_a_poll_that_finds_nothing_spins_its_whole_window_then_sleeps()
    {
        var window = new PollWindow(PollWindow.MaxLimit);
        long max = (long)(PollWindow.MaxLimit.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        for (int i = 0; i < 16; i++)
            window.Adjust(0, max);
        Assume.That(window.Current, Is.EqualTo(PollWindow.MaxLimit));
        RingBuilder ring = EventIndexRing();
        Vring vring = ring.Build();

        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        Assert.That(vring.WaitForAvailable(_notifier, _stop, window), Is.False, "gave up polling, slept, and was stopped");
        Assert.That(System.Diagnostics.Stopwatch.GetElapsedTime(start), Is.GreaterThanOrEqualTo(PollWindow.MaxLimit), "polled the whole window first");
        Assert.That(ring.AvailEvent, Is.EqualTo(Start), "notifications were re-enabled before sleeping");
    }

    [Test]
    public void A_worker_s_window_keeps_its_maximum_on_a_host_with_more_than_one_CPU()
    {
        Assume.That(Environment.ProcessorCount, Is.GreaterThan(1));
        Assert.That(PollWindow.ForWorker(TimeSpan.FromMicroseconds(32)).Max, Is.EqualTo(TimeSpan.FromMicroseconds(32)));
        Assert.That(PollWindow.ForWorker(TimeSpan.Zero).IsEnabled, Is.False);
    }
}
