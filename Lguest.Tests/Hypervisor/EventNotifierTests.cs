using Lguest.Hypervisor;

namespace Lguest.Tests.Hypervisor;

public class EventNotifierTests
{
    [Test]
    public void A_signal_before_the_wait_is_not_lost()
    {
        using var notifier = new EventNotifier();
        notifier.Signal();
        Assert.That(notifier.Wait(timeoutMilliseconds: 0), Is.True);
    }

    [Test]
    public void Signals_coalesce_into_one_wake_up()
    {
        using var notifier = new EventNotifier();
        notifier.Signal();
        notifier.Signal();
        Assert.That(notifier.Wait(timeoutMilliseconds: 0), Is.True);
        Assert.That(notifier.Wait(timeoutMilliseconds: 0), Is.False);
    }

    [Test]
    public void Stop_ends_the_wait_and_stays_signalled_for_other_waiters()
    {
        using var notifier = new EventNotifier();
        using var stop = new EventNotifier();
        stop.Signal();
        Assert.That(notifier.Wait(stop), Is.False);
        Assert.That(stop.IsSignalled, Is.True);
    }

    [Test]
    public void A_signal_from_another_thread_wakes_the_waiter()
    {
        using var notifier = new EventNotifier();
        var waiter = Task.Run(() => notifier.Wait(timeoutMilliseconds: 10_000));
        notifier.Signal();
        Assert.That(waiter.Result, Is.True);
    }
}
