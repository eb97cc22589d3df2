using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Devices;

/// <summary>
/// A virtio entropy device (virtio 1.2 §5.4): one request queue whose buffers the device fills from
/// the host's cryptographic random source, on its own worker thread. No features, no configuration.
/// </summary>
public sealed class VirtioRngDevice : IVirtioDevice
{
    private readonly GuestMemory _memory;
    private readonly int _maxRequestBytes;
    private readonly ushort[] _queueSizes;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private DeviceWorkers? _workers;

    /// <summary>Creates the device.</summary>
    /// <param name="memory">The guest's RAM.</param>
    /// <param name="options">Queue size, per-request limit, name; null for the defaults.</param>
    /// <param name="logger">Where the device logs.</param>
    public VirtioRngDevice(GuestMemory memory, VirtioRngOptions? options = null, ILogger<VirtioRngDevice>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        options ??= new VirtioRngOptions();
        options.Validate();
        _memory = memory;
        _maxRequestBytes = options.MaxRequestBytes;
        _queueSizes = [options.QueueSize];
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        Name = options.Name ?? "rng";
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;

    /// <summary>Only the ring features and VIRTIO_F_VERSION_1 (§5.4.3: the device has none of its own).</summary>
    public ulong DeviceFeatures => VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;

    /// <inheritdoc />
    public IReadOnlyList<ushort> QueueMaxSizes => _queueSizes;

    /// <summary>None (§5.4.4).</summary>
    public int ConfigSize => 0;

    /// <summary>There is no configuration: always 0.</summary>
    public byte ConfigGeneration => 0;

    /// <summary>There is no configuration; the transport never calls this (the size is 0).</summary>
    public void ReadConfig(int offset, Span<byte> data) => data.Clear();

    /// <summary>There is no configuration: ignored.</summary>
    public void WriteConfig(int offset, ReadOnlySpan<byte> data) => _logger.ConfigWriteIgnored(Name, offset, data.Length);

    /// <inheritdoc />
    public void Activate(VirtioActivation activation)
    {
        ArgumentNullException.ThrowIfNull(activation);
        Reset();
        var workers = new DeviceWorkers(Name, activation.Transport, _logger);
        if (activation.Queues.Count > 0 && activation.Queues[0] is { } queue)
        {
            var requests = new RngRequestQueue(_memory, queue, activation.Transport, _maxRequestBytes, Name, _logger);
            workers.Start(queue.Ring.Name, () => requests.Run(workers.Stop));
        }
        lock (_lock)
            _workers = workers;
    }

    /// <inheritdoc />
    public void Reset()
    {
        DeviceWorkers? workers;
        lock (_lock)
        {
            workers = _workers;
            _workers = null;
        }
        workers?.StopAndJoin();
    }
}
