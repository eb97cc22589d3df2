using Lguest.Hypervisor;

namespace Lguest.Virtio;

/// <summary>
/// One virtqueue the driver enabled, as a device receives it at activation: the split ring over guest
/// memory (placement already checked) and the notifier the driver's notifications signal (through
/// KVM's ioeventfd, or the transport's MMIO path). The device's worker for the queue waits on
/// <see cref="Notifier"/>, pops from and pushes to <see cref="Ring"/>, and asks its transport for an
/// interrupt when <see cref="Vring.NeedsInterrupt"/> says so.
/// </summary>
/// <remarks>
/// A device may also serve the queue on the thread that notifies it (QEMU's <c>ioeventfd=off</c>): see
/// <see cref="DeviceWorkers.ServeNotificationsInline"/>. Then <see cref="Owner"/> decides, notification by
/// notification, whether the notifying thread or the worker serves the ring.
/// </remarks>
public sealed class Virtqueue
{
    private Func<bool>? _inlineServer;
    private volatile bool _servesInline;

    /// <summary>Describes an enabled queue.</summary>
    /// <param name="index">The queue's index in its device.</param>
    /// <param name="ring">The ring.</param>
    /// <param name="notifier">Signalled when the driver notifies the queue.</param>
    public Virtqueue(int index, Vring ring, EventNotifier notifier)
    {
        ArgumentNullException.ThrowIfNull(ring);
        ArgumentNullException.ThrowIfNull(notifier);
        Index = index;
        Ring = ring;
        Notifier = notifier;
    }

    /// <summary>The queue's index in its device.</summary>
    public int Index { get; }

    /// <summary>The split ring, with the features negotiated for it.</summary>
    public Vring Ring { get; }

    /// <summary>Signalled on every driver notification of this queue (signals coalesce).</summary>
    public EventNotifier Notifier { get; }

    /// <summary>
    /// Held by whichever thread serves the ring, for a queue served inline
    /// (<see cref="DeviceWorkers.ServeNotificationsInline"/>): the queue's worker holds it whenever it touches the
    /// ring (or state the inline server shares with it) and lets it go only while it sleeps
    /// (<see cref="Vring.WaitForAvailable(EventNotifier, EventNotifier, PollWindow?, Lock?)"/> with it); a
    /// notification is served on the notifying thread only when that thread can take it at once. Unused otherwise.
    /// </summary>
    public Lock Owner { get; } = new();

    /// <summary>
    /// Whether the device asked to serve this queue's notifications on the notifying thread: a transport then
    /// delivers them through <see cref="Notify"/> (a vCPU exit each) rather than having the backend signal
    /// <see cref="Notifier"/> in the kernel (KVM ioeventfd). Set during activation; stays set for the activation.
    /// </summary>
    public bool ServesNotificationsInline => _servesInline;

    /// <summary>
    /// Delivers one driver notification, on the thread that saw it (a transport's MMIO path, on the vCPU thread):
    /// to the device's inline server when it has one and <see cref="Owner"/> is free at once and the server served
    /// it; otherwise by signalling <see cref="Notifier"/>, which wakes the worker. Never waits for the worker.
    /// </summary>
    public void Notify()
    {
        Func<bool>? server = Volatile.Read(ref _inlineServer);
        if (server is not null && Owner.TryEnter())
        {
            bool served;
            try
            {
                served = server();
            }
            finally
            {
                Owner.Exit();
            }
            if (served)
                return;
        }
        Notifier.Signal();
    }

    /// <summary>Sets (or with null, drops) the inline server: <see cref="DeviceWorkers.ServeNotificationsInline"/>'s.</summary>
    internal void SetInlineServer(Func<bool>? server)
    {
        if (server is not null)
            _servesInline = true;
        Volatile.Write(ref _inlineServer, server);
    }

    /// <summary>Drops <paramref name="server"/> if it is still the one set (a later activation's stays).</summary>
    internal void DropInlineServer(Func<bool> server) => Interlocked.CompareExchange(ref _inlineServer, null, server);

    /// <inheritdoc />
    public override string ToString() => $"{Ring.Name} size {Ring.Size} at {Ring.Addresses}";
}
