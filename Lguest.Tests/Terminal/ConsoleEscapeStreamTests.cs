using Lguest.Terminal;

namespace Lguest.Tests.Terminal;

public class ConsoleEscapeStreamTests
{
    /// <summary>A terminal whose reads return the given chunks one at a time, each after the clock moves on.</summary>
    private sealed class ChunkedTerminal(ManualClock clock, params (TimeSpan After, byte[] Bytes)[] chunks) : Stream
    {
        private int _next;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_next == chunks.Length)
                return 0;
            (TimeSpan after, byte[] bytes) = chunks[_next++];
            clock.Advance(after);
            bytes.CopyTo(buffer);
            return bytes.Length;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    private static readonly byte[] CtrlC = [0x03];

    private static (byte[] Passed, bool Aborted) Type(params (double Seconds, byte[] Bytes)[] keys)
    {
        var clock = new ManualClock();
        bool aborted = false;
        using var stream = new ConsoleEscapeStream(new ChunkedTerminal(clock, keys.Select(k => (TimeSpan.FromSeconds(k.Seconds), k.Bytes)).ToArray()),
            onEscape: () => Assert.Fail("no Ctrl-A x here"), onAbort: () => aborted = true, clock);
        var output = new MemoryStream();
        var buffer = new byte[64];
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            output.Write(buffer, 0, n);
        return (output.ToArray(), aborted);
    }

    [Test]
    public void Three_Ctrl_C_within_a_second_each_read_alone_abort_and_still_reach_the_guest()
    {
        (byte[] passed, bool aborted) = Type((0, CtrlC), (0.3, CtrlC), (0.3, CtrlC), (0.1, "ls"u8.ToArray()));
        Assert.That(aborted, Is.True);
        Assert.That(passed, Is.EqualTo(new byte[] { 3, 3, 3 }), "the input ends with the third Ctrl-C");
    }

    [Test]
    public void Two_Ctrl_C_do_not_abort()
    {
        (byte[] passed, bool aborted) = Type((0, CtrlC), (0.2, CtrlC), (0.2, "x"u8.ToArray()));
        Assert.That((passed, aborted), Is.EqualTo((new byte[] { 3, 3, (byte)'x' }, false)));
    }

    [Test]
    public void Three_Ctrl_C_spread_over_more_than_the_seed_s_two_seconds_do_not_abort()
    {
        Assert.That(Type((0, CtrlC), (1.5, CtrlC), (1.0, CtrlC)).Aborted, Is.False);
    }

    [Test]
    public void Three_Ctrl_C_within_the_seed_s_bound_of_two_seconds_abort()
    {
        Assert.That(Type((0, CtrlC), (0.9, CtrlC), (0.9, CtrlC)).Aborted, Is.True);
    }

    [Test]
    public void Ctrl_C_arriving_in_one_read_with_other_bytes_do_not_count()
    {
        Assert.That(Type((0, [3, 3, 3]), (0.1, CtrlC), (0.1, CtrlC)).Aborted, Is.False);
    }

    [Test]
    public void Another_key_between_the_Ctrl_C_starts_the_count_over()
    {
        Assert.That(Type((0, CtrlC), (0.1, CtrlC), (0.1, "a"u8.ToArray()), (0.1, CtrlC), (0.1, CtrlC)).Aborted, Is.False);
    }

    [Test]
    public void A_slow_triple_starts_the_count_over_so_three_quick_ones_after_it_abort()
    {
        Assert.That(Type((0, CtrlC), (3, CtrlC), (3, CtrlC), (0.1, CtrlC), (0.1, CtrlC), (0.1, CtrlC)).Aborted, Is.True);
    }

    private static (byte[] Passed, bool Escaped) Filter(byte[] input)
    {
        bool escaped = false;
        using var stream = new ConsoleEscapeStream(new MemoryStream(input), () => escaped = true);
        var output = new MemoryStream();
        var buffer = new byte[64];
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            output.Write(buffer, 0, n);
        return (output.ToArray(), escaped);
    }

    [Test]
    public void Ordinary_input_passes_through()
    {
        Assert.That(Filter("ls\r"u8.ToArray()), Is.EqualTo(("ls\r"u8.ToArray(), false)));
    }

    [Test]
    public void Ctrl_A_x_stops_and_ends_the_input()
    {
        Assert.That(Filter([(byte)'a', 0x01, (byte)'x', (byte)'b']), Is.EqualTo((new[] { (byte)'a' }, true)));
    }

    [Test]
    public void Ctrl_A_twice_sends_one_Ctrl_A()
    {
        Assert.That(Filter([0x01, 0x01, (byte)'x']), Is.EqualTo((new byte[] { 0x01, (byte)'x' }, false)));
    }

    [Test]
    public void Ctrl_A_before_another_key_sends_both()
    {
        Assert.That(Filter([0x01, (byte)'c']), Is.EqualTo((new byte[] { 0x01, (byte)'c' }, false)));
    }
}
