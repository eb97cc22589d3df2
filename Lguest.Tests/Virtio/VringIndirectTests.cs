using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Virtio;

public class VringIndirectTests
{
    private static readonly GuestAddress Table = new(0x6000);
    private GuestMemory _memory = null!;

    [SetUp]
    public void Allocate() => _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));

    [TearDown]
    public void Free() => _memory.Dispose();

    private RingBuilder Ring(bool negotiated = true) =>
        new(_memory, queueSize: 8, features: negotiated ? VirtioFeatures.RingIndirectDescriptors : 0);

    [Test]
    public void Pop_follows_an_indirect_table()
    {
        Vring vring = Ring()
            .DescriptorAt(Table, 0, 0x8000, 16, next: 1)
            .DescriptorAt(Table, 1, 0x9000, 100, write: true)
            .Descriptor(0, Table.Value, 2 * VringDescriptor.Size, indirect: true)
            .MakeAvailable(0).Build();

        Assert.That(vring.TryPop(out DescriptorChain chain), Is.True);
        Assert.That(chain.Head, Is.Zero);
        Assert.That(chain.Readable.ToArray(), Is.EqualTo(new[] { new GuestBuffer(new GuestAddress(0x8000), 16) }));
        Assert.That(chain.Writable.ToArray(), Is.EqualTo(new[] { new GuestBuffer(new GuestAddress(0x9000), 100) }));
    }

    [Test]
    public void Pop_follows_direct_descriptors_then_an_indirect_table()
    {
        Vring vring = Ring()
            .Descriptor(0, 0x7000, 8, next: 1)
            .Descriptor(1, Table.Value, VringDescriptor.Size, indirect: true)
            .DescriptorAt(Table, 0, 0x9000, 4, write: true)
            .MakeAvailable(0).Build();
        Assert.That(vring.TryPop(out DescriptorChain chain), Is.True);
        Assert.That(chain.Count, Is.EqualTo(2));
    }

    [Test]
    public void Pop_refuses_indirect_when_the_feature_was_not_negotiated()
    {
        Vring vring = Ring(negotiated: false)
            .DescriptorAt(Table, 0, 0x8000, 16)
            .Descriptor(0, Table.Value, VringDescriptor.Size, indirect: true)
            .MakeAvailable(0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("without VIRTIO_F_INDIRECT_DESC"));
    }

    [Test]
    public void Pop_refuses_an_indirect_table_inside_an_indirect_table()
    {
        Vring vring = Ring()
            .DescriptorAt(Table, 0, Table.Value, VringDescriptor.Size, indirect: true)
            .Descriptor(0, Table.Value, VringDescriptor.Size, indirect: true)
            .MakeAvailable(0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("inside an indirect table"));
    }

    [Test]
    public void Pop_refuses_indirect_and_next_together()
    {
        Vring vring = Ring()
            .DescriptorAt(Table, 0, 0x8000, 16)
            .Descriptor(0, Table.Value, VringDescriptor.Size, indirect: true, next: 1)
            .Descriptor(1, 0x9000, 16)
            .MakeAvailable(0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("indirect and next"));
    }

    [TestCase(0u)]
    [TestCase(17u)]
    public void Pop_refuses_an_indirect_table_length_that_is_not_a_multiple_of_16(uint length)
    {
        Vring vring = Ring().Descriptor(0, Table.Value, length, indirect: true).MakeAvailable(0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("indirect table length"));
    }

    [Test]
    public void Pop_refuses_an_indirect_table_with_more_entries_than_the_queue_size()
    {
        Vring vring = Ring().Descriptor(0, Table.Value, 9 * VringDescriptor.Size, indirect: true).MakeAvailable(0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("more than the queue size"));
    }

    [Test]
    public void Pop_refuses_an_indirect_table_outside_guest_memory()
    {
        Vring vring = Ring().Descriptor(0, (1 << 20) - 16, 2 * VringDescriptor.Size, indirect: true).MakeAvailable(0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("indirect table").And.Message.Contains("outside guest memory"));
    }

    [Test]
    public void Pop_refuses_a_loop_inside_an_indirect_table()
    {
        Vring vring = Ring()
            .DescriptorAt(Table, 0, 0x8000, 16, next: 1)
            .DescriptorAt(Table, 1, 0x8000, 16, next: 0)
            .Descriptor(0, Table.Value, 2 * VringDescriptor.Size, indirect: true)
            .MakeAvailable(0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("loops inside an indirect table"));
    }

    [Test]
    public void Pop_refuses_next_beyond_the_indirect_table()
    {
        Vring vring = Ring()
            .DescriptorAt(Table, 0, 0x8000, 16, next: 2)
            .Descriptor(0, Table.Value, 2 * VringDescriptor.Size, indirect: true)
            .MakeAvailable(0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("beyond the table size 2"));
    }
}
