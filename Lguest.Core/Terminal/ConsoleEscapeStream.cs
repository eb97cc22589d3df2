namespace Lguest.Terminal;

/// <summary>
/// The host's console input with the launcher's two gestures, shared by every console the guest may use (COM1,
/// the virtio console):
/// <list type="bullet">
/// <item><description>
/// The lguest launcher's abort (seed 002, console_input): three Ctrl-C within about a second, each arriving in a
/// read by itself (so they cannot come from a paste or a key held down), end the launcher as a Ctrl-C would. The
/// Ctrl-Cs still reach the guest, as in the seed. The seed checked <c>now.tv_sec &lt;= start.tv_sec + 1</c>, which
/// accepts three within 1 to 2 seconds depending on where in a second the first came; here the third must come
/// within <see cref="AbortWindow"/> of the first on a monotonic clock, so every sequence the seed took is taken.
/// </description></item>
/// <item><description>
/// QEMU's escape: Ctrl-A x stops the guest (the stream then ends); Ctrl-A Ctrl-A sends one Ctrl-A; any other
/// byte after Ctrl-A goes through with it.
/// </description></item>
/// </list>
/// </summary>
/// <param name="input">The raw terminal.</param>
/// <param name="onEscape">Ctrl-A x: stop the guest.</param>
/// <param name="onAbort">The third Ctrl-C: end the launcher as SIGINT would.</param>
/// <param name="clock">The clock the Ctrl-Cs are timed on; null for the system's.</param>
public sealed class ConsoleEscapeStream(Stream input, Action onEscape, Action? onAbort = null, TimeProvider? clock = null) : Stream
{
    /// <summary>The longest the three Ctrl-Cs may take, first to third: the seed's bound.</summary>
    public static readonly TimeSpan AbortWindow = TimeSpan.FromSeconds(2);

    private const byte CtrlA = 0x01;
    private const byte CtrlC = 0x03;
    private const int AbortCount = 3;

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private bool _sawCtrlA;
    private bool _ended;
    private int _ctrlCs;
    private long _firstCtrlC;

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => false;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <summary>Reads the keys, minus the escapes; 0 once the input ends or the escape or abort came.</summary>
    /// <exception cref="ArgumentException"><paramref name="buffer"/> has room for fewer than two bytes (a held-back Ctrl-A and the next key).</exception>
    public override int Read(Span<byte> buffer)
    {
        if (buffer.Length < 2)
            throw new ArgumentException("room for at least two bytes is needed", nameof(buffer));
        // Read at most half the room: each byte read may come out as two (a held-back Ctrl-A and itself).
        Span<byte> raw = stackalloc byte[Math.Min(256, buffer.Length / 2)];
        while (!_ended)
        {
            int read = input.Read(raw);
            if (read <= 0)
                return 0;
            bool abort = CountCtrlC(raw[..read]);
            int written = 0;
            foreach (byte b in raw[..read])
            {
                if (_sawCtrlA)
                {
                    _sawCtrlA = false;
                    if (b is (byte)'x' or (byte)'X')
                    {
                        _ended = true;
                        onEscape();
                        return written;
                    }
                    buffer[written++] = CtrlA;
                    if (b != CtrlA)
                        buffer[written++] = b;
                }
                else if (b == CtrlA)
                {
                    _sawCtrlA = true;
                }
                else
                {
                    buffer[written++] = b;
                }
            }
            if (abort)
            {
                // The third Ctrl-C goes to the guest with the rest, then the input ends with the launcher.
                _ended = true;
                onAbort?.Invoke();
            }
            if (written > 0)
                return written;
        }
        return 0;
    }

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>The seed's count: a read of exactly one Ctrl-C counts, anything else starts over. True on the third in time.</summary>
    private bool CountCtrlC(ReadOnlySpan<byte> read)
    {
        if (read.Length != 1 || read[0] != CtrlC)
        {
            _ctrlCs = 0;
            return false;
        }
        long now = _clock.GetTimestamp();
        if (++_ctrlCs == 1)
        {
            _firstCtrlC = now;
            return false;
        }
        if (_ctrlCs < AbortCount)
            return false;
        _ctrlCs = 0;
        return _clock.GetElapsedTime(_firstCtrlC, now) <= AbortWindow;
    }
}
