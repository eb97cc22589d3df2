using BenchmarkDotNet.Attributes;
using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Benchmarks;

/// <summary>
/// Device-side cost of one request: pop an available chain of 1, 2 or 4 descriptors, push it back
/// used, and decide on the interrupt, with the driver side (publishing the head) in the loop as the
/// guest would do it. One operation = one chain.
/// </summary>
[MemoryDiagnoser]
public class VringBenchmarks
{
    private const int QueueSize = 256;
    private const int ChainsPerInvocation = QueueSize;
    private static readonly GuestAddress Descriptors = new(0x10000);
    private static readonly GuestAddress Available = new(0x20000);
    private static readonly GuestAddress Used = new(0x30000);

    private GuestMemory _memory = null!;
    private Vring _vring = null!;
    private DescriptorChain _chain = null!;
    private ushort _availIndex;

    [Params(1, 2, 4)]
    public int DescriptorsPerChain { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(16 << 20));
        // Chains of DescriptorsPerChain, each starting at a multiple of it: readable then one writable.
        for (int head = 0; head + DescriptorsPerChain <= QueueSize; head += DescriptorsPerChain)
        {
            for (int i = 0; i < DescriptorsPerChain; i++)
            {
                bool last = i == DescriptorsPerChain - 1;
                ushort flags = (ushort)((last ? 0 : VringDescriptor.FlagNext) | (last && DescriptorsPerChain > 1 ? VringDescriptor.FlagWrite : 0));
                _memory.Write(new GuestAddress(Descriptors.Value + (ulong)(head + i) * VringDescriptor.Size),
                    new VringDescriptor(0x100000 + (ulong)(head + i) * 4096, 4096, flags, (ushort)(head + i + 1)));
            }
        }
        _vring = new Vring(_memory, "bench vq", QueueSize, new VringAddresses(Descriptors, Available, Used), VirtioFeatures.RingEventIndex);
        _chain = new DescriptorChain();
    }

    [GlobalCleanup]
    public void Cleanup() => _memory.Dispose();

    [Benchmark(OperationsPerInvoke = ChainsPerInvocation)]
    public int PopPush()
    {
        int chainsInRing = QueueSize / DescriptorsPerChain;
        int done = 0;
        for (int i = 0; i < ChainsPerInvocation; i++)
        {
            // Driver: publish one chain.
            ushort head = (ushort)(i % chainsInRing * DescriptorsPerChain);
            _memory.Write(new GuestAddress(Available.Value + 4 + 2UL * (ulong)(_availIndex % QueueSize)), head);
            _availIndex++;
            _memory.WriteUInt16Release(new GuestAddress(Available.Value + 2), _availIndex);

            // Device: take it, complete it, decide on the interrupt.
            if (_vring.TryPop(_chain))
            {
                _vring.Push(_chain.Head, (uint)_chain.WritableLength);
                done += _vring.NeedsInterrupt() ? 1 : 0;
            }
        }
        return done;
    }
}
