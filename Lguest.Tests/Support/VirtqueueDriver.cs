using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Tests.Support;

/// <summary>
/// The driver side of one split virtqueue in real guest memory, as a guest kernel runs it: it owns the
/// descriptor table (with a free list), adds chains (direct or through an indirect table), publishes
/// them and notifies, then takes used elements back, waiting for the device's interrupt. Data buffers
/// come from a bump allocator over a range of guest RAM shared by a device's queues.
/// </summary>
internal sealed class VirtqueueDriver : IDisposable
{
    /// <summary>How long a test waits for the device before failing (never reached when the device works).</summary>
    public const int PatienceMilliseconds = 30_000;

    private readonly GuestMemory _memory;
    private readonly int _size;
    private readonly ulong _features;
    private readonly Stack<ushort> _free = new();
    private readonly Dictionary<ushort, ushort[]> _chains = [];
    private readonly GuestArena _arena;
    private ushort _availIndex;
    private ushort _lastUsed;

    public VirtqueueDriver(GuestMemory memory, int index, int size, ulong features, GuestAddress ringBase, GuestArena arena)
    {
        _memory = memory;
        Index = index;
        _size = size;
        _features = features;
        _arena = arena;
        Descriptors = ringBase;
        Available = ringBase.Offset(16UL * (ulong)size);
        Used = new GuestAddress((Available.Value + 6 + 2UL * (ulong)size + 3) & ~3UL);
        memory.Clear(ringBase, Used.Value + 6 + 8UL * (ulong)size - ringBase.Value);
        for (int i = size - 1; i >= 0; i--)
            _free.Push((ushort)i);
    }

    public int Index { get; }

    public GuestAddress Descriptors { get; }

    public GuestAddress Available { get; }

    public GuestAddress Used { get; }

    public GuestMemory Memory => _memory;

    /// <summary>The queue's notification, as the transport (or KVM's ioeventfd) would signal it.</summary>
    public EventNotifier Notifier { get; } = new();

    public int FreeDescriptors => _free.Count;

    /// <summary>The device's view of the queue, as the transport hands it over at DRIVER_OK.</summary>
    public Virtqueue CreateQueue(string name = "test vq") =>
        new(Index, new Vring(_memory, name, _size, new VringAddresses(Descriptors, Available, Used), _features), Notifier);

    /// <summary>A device-readable buffer holding <paramref name="data"/>.</summary>
    public DriverBuffer Readable(ReadOnlySpan<byte> data)
    {
        GuestAddress address = _arena.Allocate((ulong)data.Length);
        _memory.Write(address, data);
        return new DriverBuffer(address, (uint)data.Length, Writable: false);
    }

    /// <summary>A device-writable buffer of <paramref name="length"/> bytes, filled with <paramref name="fill"/>.</summary>
    public DriverBuffer Writable(uint length, byte fill = 0xEE)
    {
        GuestAddress address = _arena.Allocate(length);
        _memory.GetSpan(address, (int)length).Fill(fill);
        return new DriverBuffer(address, length, Writable: true);
    }

    public byte[] ReadBuffer(DriverBuffer buffer) => _memory.GetSpan(buffer.Address, (int)buffer.Length).ToArray();

    /// <summary>Adds a chain (not yet visible to the device: <see cref="Kick"/> publishes). Returns its head.</summary>
    public ushort Add(params DriverBuffer[] buffers) => Add(indirect: false, buffers);

    /// <summary>Adds a chain, through an indirect table when <paramref name="indirect"/>.</summary>
    public ushort Add(bool indirect, params DriverBuffer[] buffers)
    {
        ushort head;
        if (indirect)
        {
            GuestAddress table = _arena.Allocate((ulong)buffers.Length * VringDescriptor.Size);
            for (int i = 0; i < buffers.Length; i++)
                WriteDescriptor(table, i, buffers[i], i + 1 < buffers.Length ? i + 1 : null);
            head = Take(1)[0];
            _memory.Write(DescriptorAddress(Descriptors, head),
                new VringDescriptor(table.Value, (uint)(buffers.Length * VringDescriptor.Size), VringDescriptor.FlagIndirect, 0));
            _chains[head] = [head];
        }
        else
        {
            ushort[] ids = Take(buffers.Length);
            for (int i = 0; i < buffers.Length; i++)
                WriteDescriptor(Descriptors, ids[i], buffers[i], i + 1 < ids.Length ? ids[i + 1] : null);
            head = ids[0];
            _chains[head] = ids;
        }
        _memory.Write(Available.Offset(4 + 2UL * (ulong)(_availIndex % _size)), head);
        _availIndex++;
        return head;
    }

    /// <summary>Puts <paramref name="head"/> in the next available slot as is (for chains a test writes by hand).</summary>
    public void AddRawHead(ushort head)
    {
        _memory.Write(Available.Offset(4 + 2UL * (ulong)(_availIndex % _size)), head);
        _availIndex++;
    }

    /// <summary>Writes descriptor <paramref name="index"/> of the table by hand (for broken chains).</summary>
    public void WriteRawDescriptor(int index, VringDescriptor descriptor) => _memory.Write(DescriptorAddress(Descriptors, index), descriptor);

    /// <summary>
    /// When set, <see cref="Kick"/> notifies through this queue's <see cref="Virtqueue.Notify"/>, as a transport's
    /// MMIO path does (its inline server, when the device serves the queue on the notifying thread); null: the
    /// notifier is signalled, as by KVM's ioeventfd.
    /// </summary>
    public Virtqueue? NotifyThrough { get; set; }

    /// <summary>Publishes the chains added so far (release store of the index), then notifies.</summary>
    public void Kick()
    {
        Publish();
        if (NotifyThrough is { } queue)
            queue.Notify();
        else
            Notifier.Signal();
    }

    /// <summary>Publishes the chains added so far without notifying.</summary>
    public void Publish() => _memory.WriteUInt16Release(Available.Offset(2), _availIndex);

    public ushort UsedIndex => _memory.ReadUInt16Acquire(Used.Offset(2));

    /// <summary>Sets the available ring's flags (VIRTQ_AVAIL_F_NO_INTERRUPT = 1).</summary>
    public void SetAvailableFlags(ushort flags) => _memory.Write(Available, flags);

    /// <summary>Takes the next used element, freeing its descriptors; false if the device has returned nothing new.</summary>
    public bool TryTakeUsed(out VringUsedElement used)
    {
        if (UsedIndex == _lastUsed)
        {
            used = default;
            return false;
        }
        used = _memory.Read<VringUsedElement>(Used.Offset(4 + 8UL * (ulong)(_lastUsed % _size)));
        _lastUsed++;
        // With EVENT_IDX: interrupt me when the next element is published (used_event, §2.7.10).
        _memory.Write(Available.Offset(4 + 2UL * (ulong)_size), _lastUsed);
        if (_chains.Remove((ushort)used.Id, out ushort[]? ids))
        {
            foreach (ushort id in ids)
                _free.Push(id);
        }
        return true;
    }

    /// <summary>Waits for the next used element, sleeping on <paramref name="transport"/>'s interrupt.</summary>
    public VringUsedElement WaitForUsed(RecordingVirtioTransport transport)
    {
        long deadline = Environment.TickCount64 + PatienceMilliseconds;
        VringUsedElement used;
        while (!TryTakeUsed(out used))
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0)
                Assert.Fail($"queue {Index}: no used buffer within {PatienceMilliseconds} ms (used index {UsedIndex})");
            transport.Interrupt.Wait(timeoutMilliseconds: (int)left);
        }
        return used;
    }

    /// <summary>Waits for <paramref name="count"/> used elements.</summary>
    public List<VringUsedElement> WaitForUsed(RecordingVirtioTransport transport, int count)
    {
        var all = new List<VringUsedElement>(count);
        for (int i = 0; i < count; i++)
            all.Add(WaitForUsed(transport));
        return all;
    }

    public void Dispose() => Notifier.Dispose();

    private ushort[] Take(int count)
    {
        if (_free.Count < count)
            throw new InvalidOperationException($"the test driver ran out of descriptors ({_free.Count} free, {count} needed)");
        var ids = new ushort[count];
        for (int i = 0; i < count; i++)
            ids[i] = _free.Pop();
        return ids;
    }

    private void WriteDescriptor(GuestAddress table, int index, DriverBuffer buffer, int? next)
    {
        ushort flags = (ushort)((buffer.Writable ? VringDescriptor.FlagWrite : 0) | (next is null ? 0 : VringDescriptor.FlagNext));
        _memory.Write(DescriptorAddress(table, index), new VringDescriptor(buffer.Address.Value, buffer.Length, flags, (ushort)(next ?? 0)));
    }

    private static GuestAddress DescriptorAddress(GuestAddress table, int index) => table.Offset((ulong)index * VringDescriptor.Size);
}
