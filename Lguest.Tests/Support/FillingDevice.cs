using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Tests.Support;

/// <summary>
/// A small but complete device, shaped as real ones are: one queue, a worker thread per activation that
/// sleeps on the queue's notifier, fills each chain's writable buffers with a byte, returns it, interrupts
/// when the ring says so, and reports a malformed chain to its transport. <see cref="Reset"/> stops and
/// joins the worker.
/// </summary>
internal sealed class FillingDevice(GuestMemory memory, byte fill = 0x5a) : IVirtioDevice, IDisposable
{
    private readonly EventNotifier _stop = new();
    private Thread? _worker;
    private VirtioActivation? _paused;

    public string Name => "filler";

    public VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;

    public ulong DeviceFeatures => VirtioFeatures.RingEventIndex;

    public IReadOnlyList<ushort> QueueMaxSizes { get; } = [16];

    public int ConfigSize => 0;

    public byte ConfigGeneration => 0;

    /// <summary>Set after each chain is returned (and the interrupt asked for).</summary>
    public SemaphoreSlim Completed { get; } = new(0);

    /// <summary>Set when the worker ends because the driver broke the ring.</summary>
    public ManualResetEventSlim Broke { get; } = new();

    public void ReadConfig(int offset, Span<byte> data) => throw new InvalidOperationException("the filler has no configuration");

    public void WriteConfig(int offset, ReadOnlySpan<byte> data) => throw new InvalidOperationException("the filler has no configuration");

    /// <summary>Stops the worker (it returns every chain it popped first) and keeps the activation.</summary>
    public void Pause()
    {
        if (_worker is null)
            return;
        VirtioActivation? active = _active;
        Reset();
        _paused = active;
    }

    /// <summary>Starts a worker again on the paused activation.</summary>
    public void Resume()
    {
        if (_paused is { } activation)
        {
            _paused = null;
            Activate(activation);
        }
    }

    private VirtioActivation? _active;

    public void Activate(VirtioActivation activation)
    {
        _active = activation;
        Virtqueue queue = activation.Queues[0] ?? throw new BadDriverException(Name, "queue 0 is not enabled");
        _worker = new Thread(() => Serve(queue, activation.Transport)) { IsBackground = true, Name = "filler" };
        _worker.Start();
    }

    public void Reset()
    {
        _paused = null;
        if (_worker is null)
            return;
        _stop.Signal();
        _worker.Join();
        _worker = null;
        _stop.TryConsume();
    }

    public void Dispose()
    {
        Reset();
        _stop.Dispose();
    }

    private void Serve(Virtqueue queue, IVirtioTransport transport)
    {
        var chain = new DescriptorChain();
        Span<byte> block = stackalloc byte[256];
        block.Fill(fill);
        try
        {
            while (queue.Ring.WaitForAvailable(queue.Notifier, _stop))
            {
                while (queue.Ring.TryPop(chain))
                {
                    uint written = 0;
                    while (written < chain.WritableLength)
                        written += (uint)chain.CopyToWritable(memory, written, block[..(int)Math.Min((ulong)block.Length, chain.WritableLength - written)]);
                    queue.Ring.Push(chain.Head, written);
                    if (queue.Ring.NeedsInterrupt())
                        transport.SignalUsedBuffers(queue.Index);
                    Completed.Release();
                }
            }
        }
        catch (BadDriverException e)
        {
            transport.ReportBadDriver(e);
            Broke.Set();
        }
    }
}
