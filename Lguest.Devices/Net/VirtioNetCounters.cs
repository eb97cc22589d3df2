namespace Lguest.Devices;

/// <summary>
/// What one network device moved and dropped, for tests, logs and monitoring. Each figure has a single
/// writer (the receive or the transmit worker) and is read without locks: a snapshot may mix a
/// frame's packet count with the previous byte count, never tear a value.
/// </summary>
public sealed class VirtioNetCounters
{
    private readonly long[] _drops = new long[Enum.GetValues<VirtioNetDrop>().Length];
    private long _rxPackets, _rxBytes, _txPackets, _txBytes, _rxBufferWaits;

    /// <summary>Frames delivered to the guest.</summary>
    public long ReceivedPackets => Volatile.Read(ref _rxPackets);

    /// <summary>Bytes of frames delivered to the guest, headers excluded.</summary>
    public long ReceivedBytes => Volatile.Read(ref _rxBytes);

    /// <summary>Frames the guest sent that reached the tap.</summary>
    public long TransmittedPackets => Volatile.Read(ref _txPackets);

    /// <summary>Bytes of frames the guest sent that reached the tap, headers excluded.</summary>
    public long TransmittedBytes => Volatile.Read(ref _txBytes);

    /// <summary>
    /// How often the receiver stopped reading the tap for want of receive buffers. Frames arriving
    /// meanwhile queue in the tap, and beyond its queue length the host kernel drops and counts them
    /// (the tap's TX dropped in <c>ip -s link</c>); the device itself never drops for this.
    /// </summary>
    public long ReceiveBufferWaits => Volatile.Read(ref _rxBufferWaits);

    /// <summary>The frames or chains dropped for <paramref name="reason"/>.</summary>
    public long Drops(VirtioNetDrop reason) => Volatile.Read(ref _drops[(int)reason]);

    /// <summary>Every drop, whatever the reason.</summary>
    public long TotalDrops
    {
        get
        {
            long total = 0;
            for (int i = 0; i < _drops.Length; i++)
                total += Volatile.Read(ref _drops[i]);
            return total;
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"rx {ReceivedPackets} frames {ReceivedBytes} bytes, tx {TransmittedPackets} frames {TransmittedBytes} bytes, " +
        $"{TotalDrops} dropped, {ReceiveBufferWaits} waits for receive buffers";

    internal void Received(int bytes)
    {
        Volatile.Write(ref _rxPackets, _rxPackets + 1);
        Volatile.Write(ref _rxBytes, _rxBytes + bytes);
    }

    internal void Transmitted(int bytes)
    {
        Volatile.Write(ref _txPackets, _txPackets + 1);
        Volatile.Write(ref _txBytes, _txBytes + bytes);
    }

    internal void WaitedForBuffers() => Volatile.Write(ref _rxBufferWaits, _rxBufferWaits + 1);

    /// <summary>Counts a drop; returns true for the first of its kind (worth a warning, the rest are not).</summary>
    internal bool Dropped(VirtioNetDrop reason) => Interlocked.Increment(ref _drops[(int)reason]) == 1;
}
