using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Fuzz.Fakes;

/// <summary>
/// A virtio device behind the PCI transport target: two queues (8 and 4), 12 bytes of configuration that
/// the driver may write, and a worker the target runs by hand (<see cref="Serve"/>) so every run is one thread.
/// It checks what the transport hands it: the queues it enabled, lying inside guest memory.
/// </summary>
internal sealed class FuzzVirtioDevice(GuestMemory memory) : IVirtioDevice
{
    private readonly byte[] _config = new byte[12];
    private readonly DescriptorChain _chain = new();

    public string Name => "fuzz";

    public VirtioDeviceType DeviceType => VirtioDeviceType.Net;

    public ulong DeviceFeatures => VirtioFeatures.RingEventIndex | VirtioFeatures.RingIndirectDescriptors | 0x3f;

    public IReadOnlyList<ushort> QueueMaxSizes { get; } = [8, 4];

    public int ConfigSize => _config.Length;

    public byte ConfigGeneration { get; set; }

    public VirtioActivation? Active { get; private set; }

    public int Activations { get; private set; }

    public void ReadConfig(int offset, Span<byte> data)
    {
        InvariantViolationException.ThrowUnless(offset >= 0 && data.Length is 1 or 2 or 4 or 8 && offset + data.Length <= _config.Length,
            $"configuration read of {data.Length} byte(s) at {offset} passed to the device");
        _config.AsSpan(offset, data.Length).CopyTo(data);
    }

    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        InvariantViolationException.ThrowUnless(offset >= 0 && data.Length is 1 or 2 or 4 or 8 && offset + data.Length <= _config.Length,
            $"configuration write of {data.Length} byte(s) at {offset} passed to the device");
        data.CopyTo(_config.AsSpan(offset));
    }

    // No worker of its own (the target serves the queues by hand): nothing runs to pause.
    public void Pause()
    {
    }

    public void Resume()
    {
    }

    public void Activate(VirtioActivation activation)
    {
        InvariantViolationException.ThrowUnless(activation.Queues.Count == QueueMaxSizes.Count, $"{activation.Queues.Count} queues at activation");
        InvariantViolationException.ThrowUnless(activation.HasFeature(VirtioFeatures.Version1), "activated without VIRTIO_F_VERSION_1");
        InvariantViolationException.ThrowUnless((activation.Features & ~(DeviceFeatures | VirtioFeatures.Version1)) == 0,
            $"activated with features 0x{activation.Features:x} never offered");
        foreach (Virtqueue? queue in activation.Queues)
        {
            if (queue is null)
                continue;
            VringAddresses a = queue.Ring.Addresses;
            ulong size = (ulong)queue.Ring.Size;
            InvariantViolationException.ThrowUnless(queue.Ring.Size <= QueueMaxSizes[queue.Index], $"{queue} larger than its maximum");
            InvariantViolationException.ThrowUnless(memory.IsValidRange(a.DescriptorTable, 16 * size) && memory.IsValidRange(a.AvailableRing, 4 + 2 * size)
                && memory.IsValidRange(a.UsedRing, 4 + 8 * size), $"{queue} handed to the device outside guest memory");
        }
        Active = activation;
        Activations++;
    }

    public void Reset() => Active = null;

    /// <summary>What a worker does when notified: pop a few chains from each queue, return them, report a broken ring.</summary>
    public void Serve()
    {
        if (Active is not { } activation)
            return;
        foreach (Virtqueue? queue in activation.Queues)
        {
            if (queue is null)
                continue;
            try
            {
                for (int i = 0; i < 4 && queue.Ring.TryPop(_chain); i++)
                {
                    queue.Ring.Push(_chain.Head, (uint)Math.Min(_chain.WritableLength, 64));
                    if (queue.Ring.NeedsInterrupt())
                        activation.Transport.SignalUsedBuffers(queue.Index);
                }
            }
            catch (BadDriverException e)
            {
                activation.Transport.ReportBadDriver(e);
                return;
            }
        }
    }
}
