namespace Lguest.Cli;

/// <summary>
/// The host's console input with an escape, as QEMU's: Ctrl-A x stops the guest (the stream then
/// ends), Ctrl-A Ctrl-A sends one Ctrl-A; any other byte after Ctrl-A goes through with it.
/// </summary>
internal sealed class ConsoleEscapeStream(Stream input, Action onEscape) : Stream
{
    private const byte CtrlA = 0x01;
    private bool _sawCtrlA;
    private bool _ended;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

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
            if (written > 0)
                return written;
        }
        return 0;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
