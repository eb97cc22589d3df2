using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Virtio;

/// <summary>
/// The base of a virtio device: what the in-tree devices (console, block, net, rng) are built on, and what a
/// device of your own should derive from. It implements <see cref="IVirtioDevice"/>'s life cycle once, so a
/// device only says what it is and what its queues do:
/// <list type="bullet">
/// <item><description><see cref="Activate"/> (DRIVER_OK) resets any earlier activation, makes a fresh
/// <see cref="DeviceWorkers"/> and calls <see cref="OnActivate"/>, where the device starts one worker per queue it
/// serves; if <see cref="OnActivate"/> throws, the workers it started are stopped before the exception goes on (a
/// <see cref="BadDriverException"/> then puts the device in DEVICE_NEEDS_RESET).</description></item>
/// <item><description><see cref="Reset"/> (a driver reset, DEVICE_NEEDS_RESET, the end of a boot) is idempotent:
/// it stops and joins the workers, then calls <see cref="OnReset"/> with the activation that ended (or null);
/// it is safe to call on a device that was never activated.</description></item>
/// <item><description><see cref="Pause"/> (the machine pauses) stops and joins the workers with
/// <see cref="DeviceWorkers.IsPausing"/> set, so each finishes the requests it holds; <see cref="Resume"/> starts a
/// fresh set on the same activation through <see cref="OnResume"/>, which calls <see cref="OnActivate"/> unless the
/// device overrides it.</description></item>
/// <item><description>Containment: a worker's <see cref="BadDriverException"/> is reported as a bad driver and
/// any other exception as a device failure (see <see cref="DeviceWorkers"/>): the device needs a reset, the
/// process and the other devices carry on.</description></item>
/// </list>
/// </summary>
/// <remarks>
/// The configuration members default to a device without configuration (size 0, generation 0, writes
/// ignored and logged at Debug). Override them for a configuration space; the transport has already checked
/// that an access lies inside <see cref="ConfigSize"/>. Threads: the transport calls every member from a vCPU
/// thread, one call at a time per device; <see cref="OnActivate"/> must start its workers and return.
/// </remarks>
/// <example>
/// <code>
/// public sealed class EchoDevice(GuestMemory memory) : VirtioDevice("echo")
/// {
///     public override VirtioDeviceType DeviceType => (VirtioDeviceType)0x3e;
///     public override ulong DeviceFeatures => VirtioFeatures.Version1;
///     public override IReadOnlyList&lt;ushort&gt; QueueMaxSizes { get; } = [16];
///
///     protected override void OnActivate(VirtioActivation activation, DeviceWorkers workers)
///     {
///         if (activation.Queues[0] is not { } queue)
///             return;                                          // the driver left the queue disabled
///         workers.Start(queue.Ring.Name, () =>
///         {
///             var chain = new DescriptorChain();
///             while (queue.Ring.WaitForAvailable(queue.Notifier, workers.Stop))
///             {
///                 while (queue.Ring.TryPop(chain))             // a bad chain throws BadDriverException
///                     queue.Ring.Push(chain.Head, 0);
///                 if (queue.Ring.NeedsInterrupt())
///                     activation.Transport.SignalUsedBuffers(queue.Index);
///             }
///         });
///     }
/// }
/// </code>
/// </example>
public abstract class VirtioDevice : IVirtioDevice
{
    private readonly Lock _lock = new();
    private DeviceWorkers? _workers;
    private VirtioActivation? _activation;
    private bool _paused;

    /// <summary>Creates the device.</summary>
    /// <param name="name">A short name for threads and messages ("rng", "block0").</param>
    /// <param name="logger">Where the device logs; null for none.</param>
    protected VirtioDevice(string name, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        Logger = logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public abstract VirtioDeviceType DeviceType { get; }

    /// <inheritdoc />
    public abstract ulong DeviceFeatures { get; }

    /// <inheritdoc />
    public abstract IReadOnlyList<ushort> QueueMaxSizes { get; }

    /// <summary>The size of the device-specific configuration: 0 unless overridden.</summary>
    public virtual int ConfigSize => 0;

    /// <summary>The configuration generation: 0 (a configuration that never changes) unless overridden.</summary>
    public virtual byte ConfigGeneration => 0;

    /// <summary>The current activation, or null while the device is reset (before DRIVER_OK, or after a reset).</summary>
    protected VirtioActivation? Activation
    {
        get
        {
            lock (_lock)
                return _activation;
        }
    }

    /// <summary>The device's logger (the one given to the constructor, or a null logger).</summary>
    protected ILogger Logger { get; }

    /// <summary>
    /// For a snapshot: the device's own state (see <see cref="IVirtioDevice.CaptureState"/>). Refuses unless
    /// overridden; a device with nothing beyond its queues and configuration returns an empty array.
    /// </summary>
    public virtual byte[] CaptureState() => throw Snapshot.SnapshotException.DeviceNotSupported(Name);

    /// <summary>Takes back what <see cref="CaptureState"/> returned (see <see cref="IVirtioDevice.RestoreState"/>). Refuses unless overridden.</summary>
    public virtual void RestoreState(ReadOnlyMemory<byte> state) => throw Snapshot.SnapshotException.DeviceNotSupported(Name);

    /// <summary>Reads configuration: zeros unless overridden.</summary>
    public virtual void ReadConfig(int offset, Span<byte> data) => data.Clear();

    /// <summary>Writes configuration: ignored (logged at Debug) unless overridden; every field is read-only.</summary>
    public virtual void WriteConfig(int offset, ReadOnlySpan<byte> data) => Logger.ConfigWriteIgnored(Name, offset, data.Length);

    /// <summary>
    /// DRIVER_OK: resets any earlier activation, then calls <see cref="OnActivate"/> with a fresh set of workers.
    /// </summary>
    /// <exception cref="BadDriverException">From <see cref="OnActivate"/>: the set-up cannot work; no worker is left running.</exception>
    public void Activate(VirtioActivation activation)
    {
        ArgumentNullException.ThrowIfNull(activation);
        Reset();
        var workers = new DeviceWorkers(Name, activation.Transport);
        try
        {
            OnActivate(activation, workers);
        }
        catch
        {
            workers.StopAndJoin();
            throw;
        }
        lock (_lock)
        {
            _workers = workers;
            _activation = activation;
            _paused = false;
        }
    }

    /// <summary>
    /// Stops and joins the current activation's workers (if any), then calls <see cref="OnReset"/>. Idempotent;
    /// when it returns the device no longer touches guest memory nor the old activation's transport.
    /// </summary>
    public void Reset()
    {
        DeviceWorkers? workers;
        VirtioActivation? previous;
        lock (_lock)
        {
            workers = _workers;
            previous = _activation;
            _workers = null;
            _activation = null;
            _paused = false;
        }
        workers?.StopAndJoin();
        OnReset(previous);
    }

    /// <summary>
    /// Stops and joins the current activation's workers for a pause (<see cref="DeviceWorkers.PauseAndJoin"/>: each
    /// finishes and pushes used the requests it holds), keeping the activation for <see cref="Resume"/>. Idempotent;
    /// nothing to do when the device is not active.
    /// </summary>
    public void Pause()
    {
        DeviceWorkers? workers;
        lock (_lock)
        {
            if (_activation is null || _paused)
                return;
            workers = _workers;
            _workers = null;
            _paused = true;
        }
        workers?.PauseAndJoin();
    }

    /// <summary>
    /// Serves the paused activation's queues again: a fresh set of workers through <see cref="OnResume"/>. Nothing to
    /// do when the device is not paused (or was reset meanwhile).
    /// </summary>
    /// <exception cref="BadDriverException">From <see cref="OnResume"/>; no worker is left running.</exception>
    public void Resume()
    {
        VirtioActivation activation;
        lock (_lock)
        {
            if (!_paused || _activation is null)
                return;
            activation = _activation;
        }
        var workers = new DeviceWorkers(Name, activation.Transport);
        try
        {
            OnResume(activation, workers);
        }
        catch
        {
            workers.StopAndJoin();
            throw;
        }
        bool current;
        lock (_lock)
        {
            // A reset while resuming (it cannot come from a parked vCPU, but a caller may race) wins.
            current = _paused && ReferenceEquals(_activation, activation);
            if (current)
            {
                _workers = workers;
                _paused = false;
            }
        }
        if (!current)
            workers.StopAndJoin();
    }

    /// <summary>
    /// Starts serving the queues the driver enabled (<c>activation.Queues[i]</c>, null for a queue left disabled)
    /// with the features it accepted: one <see cref="DeviceWorkers.Start"/> per queue or host-side concern, then
    /// return. Throw <see cref="BadDriverException"/> when the set-up cannot work (a feature without one it needs).
    /// </summary>
    /// <param name="activation">The features, queues and transport of this activation.</param>
    /// <param name="workers">This activation's workers: start them here, wait on its <see cref="DeviceWorkers.Stop"/>.</param>
    protected abstract void OnActivate(VirtioActivation activation, DeviceWorkers workers);

    /// <summary>
    /// Starts serving the same queues again after a pause, with <paramref name="workers"/>, a fresh set: by default
    /// <see cref="OnActivate"/> with the same activation (the rings keep their positions in the activation's
    /// <see cref="Virtqueue"/>s). Override it when <see cref="OnActivate"/> does one-time work that must not be redone.
    /// </summary>
    /// <param name="activation">The activation that was paused.</param>
    /// <param name="workers">The resumed workers: start them here, as in <see cref="OnActivate"/>.</param>
    protected virtual void OnResume(VirtioActivation activation, DeviceWorkers workers) => OnActivate(activation, workers);

    /// <summary>
    /// Called by every <see cref="Reset"/>, after the workers have returned: put device state (configuration
    /// written by the driver, counters of one activation) back to its initial values. Nothing by default.
    /// </summary>
    /// <param name="previous">The activation that just ended, or null when the device was not active.</param>
    protected virtual void OnReset(VirtioActivation? previous)
    {
    }
}
