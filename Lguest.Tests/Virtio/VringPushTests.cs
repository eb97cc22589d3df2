using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Virtio;

public class VringPushTests
{
    private GuestMemory _memory = null!;

    [SetUp]
    public void Allocate() => _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));

    [TearDown]
    public void Free() => _memory.Dispose();

    [Test]
    public void Push_writes_the_used_element_and_publishes_the_index()
    {
        var ring = new RingBuilder(_memory, 8);
        Vring vring = ring.Build();
        vring.Push(head: 5, writtenLength: 513);
        Assert.That(ring.UsedIndex, Is.EqualTo(1));
        Assert.That((ring.UsedElement(0).Id, ring.UsedElement(0).Length), Is.EqualTo((5u, 513u)));
    }

    [Test]
    public void AddUsed_publishes_nothing_until_PublishUsed()
    {
        var ring = new RingBuilder(_memory, 8);
        Vring vring = ring.Build();
        vring.AddUsed(1, 10);
        vring.AddUsed(2, 20);
        Assert.That(ring.UsedIndex, Is.Zero);
        vring.PublishUsed();
        Assert.That(ring.UsedIndex, Is.EqualTo(2));
        Assert.That(ring.UsedElement(1).Id, Is.EqualTo(2u));
    }

    [Test]
    public void Used_slots_wrap_modulo_the_queue_size()
    {
        var ring = new RingBuilder(_memory, 2);
        Vring vring = ring.Build();
        for (ushort i = 0; i < 3; i++)
            vring.Push(i == 2 ? (ushort)1 : i, i);
        Assert.That(ring.UsedElement(2).Length, Is.EqualTo(2u), "the third element lands in slot 0 again");
    }

    [Test]
    public void Push_refuses_a_head_the_queue_cannot_have_given()
    {
        Vring vring = new RingBuilder(_memory, 8).Build();
        Assert.That(() => vring.Push(8, 0), Throws.TypeOf<ArgumentOutOfRangeException>());
    }
}
