using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Tests.Devices;

/// <summary>
/// A third-party device written only against Lguest.Core's public API, as a plugin author would:
/// one queue, each chain's readable bytes copied into its writable buffers. Its device ID is one
/// virtio leaves unassigned, so no real driver binds it.
/// </summary>
internal sealed class EchoDevice(GuestMemory memory) : IVirtioDevice
{
    public const VirtioDeviceType EchoType = (VirtioDeviceType)0x3e;

    private Thread? _worker;
    private EventNotifier? _stop;

    public string Name => "echo";

    public VirtioDeviceType DeviceType => EchoType;

    public ulong DeviceFeatures => VirtioFeatures.Version1;

    public IReadOnlyList<ushort> QueueMaxSizes { get; } = [16];

    public int ConfigSize => 4;

    public byte ConfigGeneration => 0;

    public int Echoed;

    public void ReadConfig(int offset, Span<byte> data)
    {
        // The configuration is one le32: the number of chains echoed so far.
        Span<byte> config = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(config, Volatile.Read(ref Echoed));
        config.Slice(offset, data.Length).CopyTo(data);
    }

    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
    }

    public void Activate(VirtioActivation activation)
    {
        if (activation.Queues[0] is not { } queue)
            return;
        var stop = new EventNotifier();
        _stop = stop;
        _worker = new Thread(() =>
        {
            var chain = new DescriptorChain();
            var bytes = new byte[4096];
            while (queue.Ring.WaitForAvailable(queue.Notifier, stop))
            {
                while (queue.Ring.TryPop(chain))
                {
                    int n = chain.CopyFromReadable(memory, 0, bytes);
                    int copied = chain.CopyToWritable(memory, 0, bytes.AsSpan(0, n));
                    queue.Ring.Push(chain.Head, (uint)copied);
                    Interlocked.Increment(ref Echoed);
                }
                if (queue.Ring.NeedsInterrupt())
                    activation.Transport.SignalUsedBuffers(queue.Index);
            }
        }) { IsBackground = true };
        _worker.Start();
    }

    public void Reset()
    {
        _stop?.Signal();
        _worker?.Join();
        _stop?.Dispose();
        _stop = null;
        _worker = null;
    }
}

internal sealed class EchoDeviceFactory : IVirtioDeviceFactory
{
    public IVirtioDevice Create(GuestMemory memory) => new EchoDevice(memory);
}

internal static class EchoServiceCollectionExtensions
{
    /// <summary>One call, one device: the same shape as AddVirtioBlock and friends.</summary>
    public static IServiceCollection AddEcho(this IServiceCollection services) =>
        services.AddSingleton<IVirtioDeviceFactory, EchoDeviceFactory>();
}
