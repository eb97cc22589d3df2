using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Virtio;

public class VringSetupTests
{
    private GuestMemory _memory = null!;

    [SetUp]
    public void Allocate() => _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));

    [TearDown]
    public void Free() => _memory.Dispose();

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(100)]
    [TestCase(65536)]
    public void A_queue_size_that_is_not_a_power_of_two_up_to_32768_is_refused(int size)
    {
        Assert.That(() => new Vring(_memory, "vq", size, new RingBuilder(_memory, 1).Addresses, 0),
            Throws.TypeOf<BadDriverException>().With.Message.Contains($"invalid queue size {size}"));
    }

    [Test]
    public void The_largest_queue_size_is_accepted()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(4 << 20));
        var addresses = new VringAddresses(new GuestAddress(0), new GuestAddress(0x80000), new GuestAddress(0x100000));
        Assert.That(new Vring(memory, "vq", Vring.MaxSize, addresses, 0).Size, Is.EqualTo(32768));
    }

    [Test]
    public void A_misaligned_descriptor_table_is_refused()
    {
        var ring = new RingBuilder(_memory, 8) { Descriptors = new GuestAddress(0x1008) };
        Assert.That(() => ring.Build(), Throws.TypeOf<BadDriverException>().With.Message.Contains("descriptor table").And.Message.Contains("aligned"));
    }

    [Test]
    public void A_misaligned_available_ring_is_refused()
    {
        var ring = new RingBuilder(_memory, 8) { Available = new GuestAddress(0x3001) };
        Assert.That(() => ring.Build(), Throws.TypeOf<BadDriverException>().With.Message.Contains("available ring").And.Message.Contains("aligned"));
    }

    [Test]
    public void A_misaligned_used_ring_is_refused()
    {
        var ring = new RingBuilder(_memory, 8) { Used = new GuestAddress(0x4002) };
        Assert.That(() => ring.Build(), Throws.TypeOf<BadDriverException>().With.Message.Contains("used ring").And.Message.Contains("aligned"));
    }

    [Test]
    public void A_descriptor_table_running_past_guest_memory_is_refused()
    {
        var ring = new RingBuilder(_memory, 8) { Descriptors = new GuestAddress((1 << 20) - 64) };
        Assert.That(() => ring.Build(), Throws.TypeOf<BadDriverException>().With.Message.Contains("descriptor table").And.Message.Contains("outside guest memory"));
    }

    [Test]
    public void A_used_ring_whose_event_field_runs_past_guest_memory_is_refused_with_event_index()
    {
        // 4 + 8*8 = 68 bytes fit; the trailing avail_event does not.
        var ring = new RingBuilder(_memory, 8, VirtioFeatures.RingEventIndex) { Used = new GuestAddress((1 << 20) - 68) };
        Assert.That(() => ring.Build(), Throws.TypeOf<BadDriverException>().With.Message.Contains("used ring"));
        var withoutEventIndex = new RingBuilder(_memory, 8) { Used = new GuestAddress((1 << 20) - 68) };
        Assert.That(withoutEventIndex.Build().Size, Is.EqualTo(8));
    }

    [Test]
    public void Rings_in_a_hole_of_the_layout_are_refused()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(64 << 20, mmioHoleStart: 32 << 20));
        var ring = new RingBuilder(memory, 8) { Available = new GuestAddress(40 << 20) };
        Assert.That(() => ring.Build(), Throws.TypeOf<BadDriverException>().With.Message.Contains("available ring"));
    }
}
