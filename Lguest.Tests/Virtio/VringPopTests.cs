using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Virtio;

public class VringPopTests
{
    private GuestMemory _memory = null!;

    [SetUp]
    public void Allocate() => _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));

    [TearDown]
    public void Free() => _memory.Dispose();

    [Test]
    public void TryPop_returns_false_when_nothing_is_available()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8).Build();
        Assert.That(vring.TryPop(out _), Is.False);
    }

    [Test]
    public void TryPop_returns_readable_then_writable_buffers_in_chain_order()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8)
            .Descriptor(3, address: 0x8000, length: 16, next: 5)
            .Descriptor(5, address: 0x9000, length: 512, next: 1)
            .Descriptor(1, address: 0xa000, length: 512, write: true, next: 2)
            .Descriptor(2, address: 0xb000, length: 1, write: true)
            .MakeAvailable(head: 3).Build();

        Assert.That(vring.TryPop(out DescriptorChain chain), Is.True);
        Assert.That(chain.Head, Is.EqualTo(3));
        Assert.That(chain.Readable.ToArray(), Is.EqualTo(new[] { Buffer(0x8000, 16), Buffer(0x9000, 512) }));
        Assert.That(chain.Writable.ToArray(), Is.EqualTo(new[] { Buffer(0xa000, 512), Buffer(0xb000, 1) }));
        Assert.That((chain.ReadableLength, chain.WritableLength), Is.EqualTo((528UL, 513UL)));
    }

    [Test]
    public void TryPop_takes_chains_in_the_order_they_were_made_available()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 4)
            .Descriptor(0, 0x8000, 1).Descriptor(1, 0x8001, 1)
            .MakeAvailable(1).MakeAvailable(0).Build();
        var chain = new DescriptorChain();
        Assert.That(vring.TryPop(chain) ? chain.Head : -1, Is.EqualTo(1));
        Assert.That(vring.TryPop(chain) ? chain.Head : -1, Is.EqualTo(0));
        Assert.That(vring.TryPop(chain), Is.False);
    }

    [Test]
    public void Indices_wrap_past_65535()
    {
        var builder = new RingBuilder(_memory, queueSize: 4).StartAt(65534).Descriptor(0, 0x8000, 1);
        for (int i = 0; i < 3; i++)
            builder.MakeAvailable(0);
        Vring vring = builder.Build();
        var chain = new DescriptorChain();
        for (int i = 0; i < 3; i++)
        {
            Assert.That(vring.TryPop(chain), Is.True);
            vring.Push(chain.Head, 0);
        }
        Assert.That(vring.TryPop(chain), Is.False);
        Assert.That(builder.UsedIndex, Is.EqualTo(1));
    }

    [Test]
    public void Pop_refuses_a_chain_that_loops()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8)
            .Descriptor(0, address: 0x8000, length: 16, next: 1)
            .Descriptor(1, address: 0x9000, length: 16, next: 0)
            .MakeAvailable(head: 0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("loops"));
    }

    [Test]
    public void Pop_refuses_a_descriptor_pointing_at_itself()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8)
            .Descriptor(2, address: 0x8000, length: 16, next: 2)
            .MakeAvailable(head: 2).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("loops"));
    }

    [Test]
    public void Pop_accepts_a_chain_using_every_descriptor()
    {
        var builder = new RingBuilder(_memory, queueSize: 4);
        for (int i = 0; i < 4; i++)
            builder.Descriptor(i, 0x8000 + (ulong)i, 1, next: i < 3 ? i + 1 : null);
        Vring vring = builder.MakeAvailable(0).Build();
        Assert.That(vring.TryPop(out DescriptorChain chain), Is.True);
        Assert.That(chain.Count, Is.EqualTo(4));
    }

    [Test]
    public void Pop_refuses_next_beyond_the_table()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8)
            .Descriptor(0, address: 0x8000, length: 16, next: 8)
            .MakeAvailable(head: 0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("next 8 beyond"));
    }

    [Test]
    public void Pop_refuses_a_head_beyond_the_queue_size()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8).MakeAvailable(head: 8).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("index 8 is available"));
    }

    [Test]
    public void Pop_refuses_an_available_index_that_jumps_by_more_than_the_queue_size()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8).AvailableIndex(9).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("more than the queue size"));
    }

    [Test]
    public void Pop_accepts_an_available_index_a_full_ring_ahead()
    {
        var builder = new RingBuilder(_memory, queueSize: 2).Descriptor(0, 0x8000, 1).Descriptor(1, 0x8001, 1);
        Vring vring = builder.MakeAvailable(0).MakeAvailable(1).Build();
        Assert.That(vring.TryPop(out _), Is.True);
    }

    [Test]
    public void Pop_refuses_a_readable_buffer_after_a_writable_one()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8)
            .Descriptor(0, address: 0x8000, length: 16, write: true, next: 1)
            .Descriptor(1, address: 0x9000, length: 16)
            .MakeAvailable(head: 0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("readable after"));
    }

    [Test]
    public void Pop_refuses_a_readable_buffer_after_an_empty_writable_one()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8)
            .Descriptor(0, address: 0x8000, length: 0, write: true, next: 1)
            .Descriptor(1, address: 0x9000, length: 16)
            .MakeAvailable(head: 0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("readable after"));
    }

    [Test]
    public void Pop_refuses_a_buffer_past_the_end_of_guest_memory()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8)
            .Descriptor(0, address: (1 << 20) - 8, length: 16)
            .MakeAvailable(head: 0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("outside guest memory"));
    }

    [Test]
    public void Pop_refuses_a_buffer_whose_end_wraps_past_2_to_the_64()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8)
            .Descriptor(0, address: ulong.MaxValue - 7, length: 16)
            .MakeAvailable(head: 0).Build();
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.Contains("outside guest memory"));
    }

    [Test]
    public void Pop_accepts_a_buffer_ending_exactly_at_the_end_of_guest_memory()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8)
            .Descriptor(0, address: (1 << 20) - 16, length: 16)
            .MakeAvailable(head: 0).Build();
        Assert.That(vring.TryPop(out _), Is.True);
    }

    [Test]
    public void The_chain_is_read_once_so_later_guest_writes_do_not_change_it()
    {
        var builder = new RingBuilder(_memory, queueSize: 8).Descriptor(0, address: 0x8000, length: 16).MakeAvailable(head: 0);
        Vring vring = builder.Build();
        Assert.That(vring.TryPop(out DescriptorChain chain), Is.True);
        builder.Descriptor(0, address: 0xfff00000, length: 16);
        Assert.That(chain.Readable[0], Is.EqualTo(Buffer(0x8000, 16)));
    }

    [Test]
    public void Error_messages_name_the_queue_in_the_seed_format()
    {
        Vring vring = new RingBuilder(_memory, queueSize: 8).MakeAvailable(head: 9).Build("virtio-blk vq 0");
        Assert.That(() => vring.TryPop(out _), Throws.TypeOf<BadDriverException>().With.Message.StartsWith("virtio-blk vq 0: bad driver: "));
    }

    private static GuestBuffer Buffer(ulong address, uint length) => new(new GuestAddress(address), length);
}
