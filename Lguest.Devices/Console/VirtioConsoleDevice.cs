using System.IO.Pipelines;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// A virtio console (virtio 1.2 §5.3) with a single port and no optional features: receiveq 0 carries
/// host input to the guest (Linux's /dev/hvc0), transmitq 1 carries the guest's output to the host.
/// Each queue has its own worker thread.
/// </summary>
/// <remarks>
/// The device does not own the pipes: they outlive it, across reboots, and whoever made them
/// completes them. See the folder's README for the threat model.
/// </remarks>
public sealed class VirtioConsoleDevice : VirtioDevice
{
    /// <summary>The port 0 receive queue's index.</summary>
    public const int ReceiveQueueIndex = 0;

    /// <summary>The port 0 transmit queue's index.</summary>
    public const int TransmitQueueIndex = 1;

    /// <summary>
    /// struct virtio_console_config (cols, rows, max_nr_ports, emerg_wr; virtio 1.2 §5.3.4), all zero:
    /// none of VIRTIO_CONSOLE_F_SIZE, _MULTIPORT and _EMERG_WRITE is offered.
    /// </summary>
    public const int ConfigurationSize = 12;

    private readonly GuestMemory _memory;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly ushort[] _queueSizes;

    /// <summary>Creates the console over a host-side pipe pair.</summary>
    /// <param name="memory">The guest's RAM.</param>
    /// <param name="input">Where the guest's input is read from; the device consumes it but never completes it.</param>
    /// <param name="output">Where the guest's output is written and flushed; never completed by the device.</param>
    /// <param name="options">Queue size and name; the streams in it are not used here (see the factory).</param>
    /// <param name="logger">Where host stream errors go.</param>
    public VirtioConsoleDevice(GuestMemory memory, PipeReader input, PipeWriter output, VirtioConsoleOptions? options = null,
        ILogger<VirtioConsoleDevice>? logger = null)
        : base((options ?? new VirtioConsoleOptions()).Name ?? "console", logger)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        options ??= new VirtioConsoleOptions();
        options.Validate();
        _memory = memory;
        _input = input;
        _output = output;
        _queueSizes = [options.QueueSize, options.QueueSize];
    }

    /// <inheritdoc />
    public override VirtioDeviceType DeviceType => VirtioDeviceType.Console;

    /// <summary>Only the ring features and VIRTIO_F_VERSION_1: no console feature is offered.</summary>
    public override ulong DeviceFeatures => VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;

    /// <inheritdoc />
    public override IReadOnlyList<ushort> QueueMaxSizes => _queueSizes;

    /// <inheritdoc />
    public override int ConfigSize => ConfigurationSize;

    // The configuration never changes (generation 0) and every field reads 0; emerg_wr would be the only writable
    // field, and VIRTIO_CONSOLE_F_EMERG_WRITE is not offered: writes are ignored. The base's defaults do all three.

    /// <summary>
    /// For a snapshot: nothing beyond the queues, the configuration (fixed) and guest memory. Output the driver queued
    /// was written out before the pause; input not yet delivered belongs to this process's terminal, not the guest.
    /// </summary>
    public override byte[] CaptureState() => [];

    /// <summary>Takes a snapshot's (empty) state.</summary>
    /// <exception cref="Snapshot.SnapshotException">The state is not empty.</exception>
    public override void RestoreState(ReadOnlyMemory<byte> state) => new Snapshot.SnapshotStateReader(state, $"{Name}'s state").RequireEnd();

    /// <inheritdoc />
    protected override void OnActivate(VirtioActivation activation, DeviceWorkers workers)
    {
        ArgumentNullException.ThrowIfNull(activation);
        ArgumentNullException.ThrowIfNull(workers);
        IReadOnlyList<Virtqueue?> queues = activation.Queues;
        // A driver may leave either queue disabled (one that only writes, say): that direction is idle.
        if (queues.Count > ReceiveQueueIndex && queues[ReceiveQueueIndex] is { } receiveq)
        {
            var receiver = new ConsoleReceiver(_memory, _input, receiveq, activation.Transport, Name, Logger);
            workers.Start(receiveq.Ring.Name, () => receiver.Run(workers.Stop, workers.Cancellation));
        }
        if (queues.Count > TransmitQueueIndex && queues[TransmitQueueIndex] is { } transmitq)
        {
            var transmitter = new ConsoleTransmitter(_memory, _output, transmitq, activation.Transport, Name, Logger);
            workers.Start(transmitq.Ring.Name, () => transmitter.Run(workers.Stop, workers.Cancellation, () => workers.IsPausing));
        }
    }
}
