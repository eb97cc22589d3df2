using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Tests.Devices;

/// <summary>
/// A third-party device written only against Lguest.Core's public API, as a plugin author would: one queue,
/// each chain's readable bytes copied into its writable buffers, on the <see cref="VirtioDevice"/> base (its
/// worker, stop signal and containment of a driver's errors). Its device ID is one virtio leaves unassigned,
/// so no real driver binds it.
/// </summary>
internal sealed class EchoDevice(GuestMemory memory) : VirtioDevice("echo")
{
    public const VirtioDeviceType EchoType = (VirtioDeviceType)0x3e;

    /// <summary>The most bytes one chain echoes: bounds the host buffer whatever the guest's chain holds.</summary>
    public const int MaxEcho = 4096;

    public int Echoed;

    public override VirtioDeviceType DeviceType => EchoType;

    public override ulong DeviceFeatures => VirtioFeatures.Version1;

    public override IReadOnlyList<ushort> QueueMaxSizes { get; } = [16];

    public override int ConfigSize => 4;

    public override void ReadConfig(int offset, Span<byte> data)
    {
        // The configuration is one le32: the number of chains echoed so far.
        Span<byte> config = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(config, Volatile.Read(ref Echoed));
        config.Slice(offset, data.Length).CopyTo(data);
    }

    protected override void OnActivate(VirtioActivation activation, DeviceWorkers workers)
    {
        if (activation.Queues[0] is not { } queue)
            return;
        workers.Start(queue.Ring.Name, () =>
        {
            var chain = new DescriptorChain();
            var bytes = new byte[MaxEcho];
            while (queue.Ring.WaitForAvailable(queue.Notifier, workers.Stop))
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
        });
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
