using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Virtio;

public class VringNotificationTests
{
    private GuestMemory _memory = null!;

    [SetUp]
    public void Allocate() => _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));

    [TearDown]
    public void Free() => _memory.Dispose();

    [Test]
    public void NeedsInterrupt_is_true_after_a_push_when_the_driver_did_not_suppress_it()
    {
        Vring vring = new RingBuilder(_memory, 8).Build();
        vring.Push(0, 0);
        Assert.That(vring.NeedsInterrupt(), Is.True);
    }

    [Test]
    public void NeedsInterrupt_is_false_when_nothing_was_pushed_since_the_last_one()
    {
        Vring vring = new RingBuilder(_memory, 8).Build();
        vring.Push(0, 0);
        _ = vring.NeedsInterrupt();
        Assert.That(vring.NeedsInterrupt(), Is.False);
    }

    [Test]
    public void NeedsInterrupt_honours_VRING_AVAIL_F_NO_INTERRUPT()
    {
        Vring vring = new RingBuilder(_memory, 8).AvailableFlags(1).Build();
        vring.Push(0, 0);
        Assert.That(vring.NeedsInterrupt(), Is.False);
    }

    [Test]
    public void Available_flags_other_than_0_or_1_are_refused_without_event_index()
    {
        Vring vring = new RingBuilder(_memory, 8).AvailableFlags(2).Build();
        vring.Push(0, 0);
        Assert.That(() => vring.NeedsInterrupt(), Throws.TypeOf<BadDriverException>().With.Message.Contains("avail->flags = 2"));
    }

    [TestCase((ushort)0, true, TestName = "used_event 0: the first push crosses it")]
    [TestCase((ushort)1, true, TestName = "used_event 1: the second push crosses it")]
    [TestCase((ushort)2, false, TestName = "used_event 2: not reached by two pushes")]
    public void With_event_index_an_interrupt_is_due_only_when_used_event_is_crossed(ushort usedEvent, bool expected)
    {
        Vring vring = new RingBuilder(_memory, 8, VirtioFeatures.RingEventIndex).UsedEvent(usedEvent).AvailableFlags(1).Build();
        vring.AddUsed(0, 0);
        vring.AddUsed(1, 0);
        vring.PublishUsed();
        Assert.That(vring.NeedsInterrupt(), Is.EqualTo(expected));
    }

    [Test]
    public void With_event_index_a_used_event_already_passed_gives_no_new_interrupt()
    {
        Vring vring = new RingBuilder(_memory, 8, VirtioFeatures.RingEventIndex).UsedEvent(0).Build();
        vring.Push(0, 0);
        Assert.That(vring.NeedsInterrupt(), Is.True);
        vring.Push(1, 0);
        Assert.That(vring.NeedsInterrupt(), Is.False, "the driver has not moved used_event past 0");
    }

    [Test]
    public void Disable_then_enable_notifications_sets_and_clears_VRING_USED_F_NO_NOTIFY()
    {
        var ring = new RingBuilder(_memory, 8);
        Vring vring = ring.Build();
        vring.DisableNotifications();
        Assert.That(ring.UsedFlags, Is.EqualTo(1));
        Assert.That(vring.EnableNotifications(), Is.False);
        Assert.That(ring.UsedFlags, Is.Zero);
    }

    [Test]
    public void With_event_index_enabling_notifications_publishes_avail_event()
    {
        var ring = new RingBuilder(_memory, 8, VirtioFeatures.RingEventIndex).Descriptor(0, 0x8000, 1).MakeAvailable(0).MakeAvailable(0);
        Vring vring = ring.Build();
        Assert.That(vring.TryPop(out _), Is.True);
        Assert.That(vring.TryPop(out _), Is.True);
        vring.DisableNotifications();
        Assert.That(ring.UsedFlags, Is.Zero, "with EVENT_IDX the flag is not used");
        Assert.That(vring.EnableNotifications(), Is.False);
        Assert.That(ring.AvailEvent, Is.EqualTo(2));
    }

    [Test]
    public void EnableNotifications_reports_a_chain_that_arrived_meanwhile()
    {
        var ring = new RingBuilder(_memory, 8).Descriptor(0, 0x8000, 1);
        Vring vring = ring.Build();
        ring.MakeAvailable(0);
        Assert.That(vring.EnableNotifications(), Is.True);
    }

    [Test]
    public void WaitForAvailable_wakes_when_the_driver_notifies_from_another_thread()
    {
        var ring = new RingBuilder(_memory, 8).Descriptor(0, 0x8000, 1);
        Vring vring = ring.Build();
        using var notifier = new EventNotifier();
        using var stop = new EventNotifier();
        Task<bool> waiter = Task.Run(() => vring.WaitForAvailable(notifier, stop));
        ring.MakeAvailable(0);
        notifier.Signal();
        Assert.That(waiter.Wait(TimeSpan.FromSeconds(30)) && waiter.Result, Is.True);
        Assert.That(ring.UsedFlags, Is.EqualTo(1), "notifications are disabled again while the device works");
    }

    [Test]
    public void WaitForAvailable_returns_false_on_stop()
    {
        Vring vring = new RingBuilder(_memory, 8).Build();
        using var notifier = new EventNotifier();
        using var stop = new EventNotifier();
        stop.Signal();
        Assert.That(vring.WaitForAvailable(notifier, stop), Is.False);
    }
}
