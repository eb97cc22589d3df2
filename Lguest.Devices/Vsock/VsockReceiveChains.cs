using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Devices;

/// <summary>
/// The receive chains the device popped and has not used yet, in the order the guest made them available, with
/// the length of the packet each of the first few got. Linux posts 4 KiB receive buffers; holding several lets one
/// turn of a connection read its host end into several of them with a single readv (a packet each), where one read
/// per buffer cost a system call per 4 KiB. Chains are always used from the front, so the used ring names them in
/// the order they were popped, as a device that holds one at a time does.
/// </summary>
/// <remarks>Used by the receive worker only; the muxer writes into them under its lock.</remarks>
internal sealed class VsockReceiveChains
{
    /// <summary>
    /// The most chains held at once: <see cref="VsockConnection.MaxReadBytes"/> over Linux's 4 KiB receive buffers,
    /// so one read can fill as many as it may. Bounds the host's descriptor-chain objects and the guest buffers one
    /// readv names.
    /// </summary>
    public const int MaxHeld = VsockConnection.MaxReadBytes / 4096;

    private readonly DescriptorChain[] _chains = new DescriptorChain[MaxHeld];
    private readonly DescriptorChain[] _spare = new DescriptorChain[MaxHeld];
    private readonly uint[] _lengths = new uint[MaxHeld];
    private GuestBuffer[] _scratch = new GuestBuffer[MaxHeld * 2];

    /// <summary>Creates the (empty) holder.</summary>
    public VsockReceiveChains()
    {
        for (int i = 0; i < MaxHeld; i++)
            _chains[i] = new DescriptorChain();
    }

    /// <summary>The chains held.</summary>
    public int Count { get; private set; }

    /// <summary>Whether no more can be held.</summary>
    public bool IsFull => Count == MaxHeld;

    /// <summary>The <paramref name="index"/>th chain held, from the oldest.</summary>
    public DescriptorChain this[int index] => index < Count ? _chains[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The length of the packet written into each of the first chains (set by whoever writes them).</summary>
    public Span<uint> Lengths => _lengths;

    /// <summary>
    /// Pops the ring's next chain behind those held; false when the holder is full or the ring has none. The caller
    /// checks it (<c>this[Count - 1]</c>): a chain that fails its check ends the device.
    /// </summary>
    /// <exception cref="BadDriverException">The driver broke a rule of the ring.</exception>
    public bool TryPop(Vring ring)
    {
        if (IsFull || !ring.TryPop(_chains[Count]))
            return false;
        Count++;
        return true;
    }

    /// <summary>
    /// Room for <paramref name="buffers"/> guest buffers to name in one read: the chains' payload areas, which
    /// together have at most as many buffers as the held chains (each bounded by the queue size by its ring).
    /// </summary>
    public Span<GuestBuffer> Scratch(int buffers)
    {
        if (_scratch.Length < buffers)
            Array.Resize(ref _scratch, Math.Max(buffers, _scratch.Length * 2));
        return _scratch;
    }

    /// <summary>Forgets the first <paramref name="used"/> chains (they went to the guest); the rest move to the front.</summary>
    public void Drop(int used)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(used, Count);
        if (used == 0)
            return;
        // Rotate, so the chain objects are kept for reuse (nothing allocated per packet).
        Span<DescriptorChain> chains = _chains;
        chains[..used].CopyTo(_spare);
        chains[used..Count].CopyTo(chains);
        _spare.AsSpan(0, used).CopyTo(chains[(Count - used)..]);
        _spare.AsSpan(0, used).Clear();
        Count -= used;
    }
}
