using System.Text;
using Lguest.Machine;

namespace Lguest.Tests.Machine;

/// <summary>
/// The serial console's output thread: every byte arrives in order, whole lines go out in one write even when the
/// guest's UART delivered them a piece at a time (a shared console must not get another writer's text mid-line),
/// and an unfinished line still goes out: after its hold, when it grows long, and when the run ends. A pause waits
/// (<see cref="SerialConsoleOutput.WaitWritten"/>) until the host has everything the guest wrote before it, so nothing
/// the guest wrote is behind a snapshot's line or lost to a kill after it.
/// </summary>
public class SerialConsoleOutputTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan NeverInATest = TimeSpan.FromMinutes(10);

    [Test]
    public void A_line_the_guest_transmits_in_pieces_goes_out_in_one_write()
    {
        var host = new WriteRecorder();
        using (var output = new SerialConsoleOutput(host, NeverInATest))
        {
            Transmit(output, "GUEST-VSOCK-G2H-");
            Thread.Sleep(100); // the output thread sees the unfinished line first
            Transmit(output, "SENT 1234\nBED-");
            Thread.Sleep(100);
            Transmit(output, "LINE\n");
        }

        Assert.That(host.Writes, Is.EqualTo(new[] { "GUEST-VSOCK-G2H-SENT 1234\n", "BED-LINE\n" }));
    }

    [Test]
    public void A_prompt_without_a_newline_goes_out_after_its_short_hold()
    {
        var host = new WriteRecorder();
        using var output = new SerialConsoleOutput(host, TimeSpan.FromMilliseconds(20));
        Transmit(output, "done\nlogin: ");

        Assert.That(() => host.Text, Is.EqualTo("done\nlogin: ").After((int)Patience.TotalMilliseconds, 10));
    }

    [Test]
    public void A_line_longer_than_a_pipe_write_goes_out_without_waiting_for_its_newline()
    {
        var host = new WriteRecorder();
        using var output = new SerialConsoleOutput(host, NeverInATest);
        Transmit(output, new string('x', 5000));

        Assert.That(() => host.Text.Length, Is.EqualTo(5000).After((int)Patience.TotalMilliseconds, 10));
    }

    [Test]
    public void The_end_of_the_run_writes_out_an_unfinished_line()
    {
        var host = new WriteRecorder();
        var output = new SerialConsoleOutput(host, NeverInATest);
        Transmit(output, "line\nunfinished");
        output.Complete();

        Assert.That(host.Text, Is.EqualTo("line\nunfinished"));
    }

    [Test]
    public void Waiting_returns_once_the_host_has_every_byte_the_guest_wrote_before_it()
    {
        using var host = new GatedStream();
        using var output = new SerialConsoleOutput(host);
        Transmit(output, "GUEST-DD 42\r\nGUEST-DD 43\r\n");

        Task<bool> wait = Task.Run(() => output.WaitWritten(Patience));
        Assert.That(wait.Wait(TimeSpan.FromMilliseconds(200)), Is.False, "the host has not taken the bytes yet");
        host.Gate.Set();
        Assert.That(wait.Wait(Patience) && wait.Result, Is.True);
        Assert.That(host.Text, Is.EqualTo("GUEST-DD 42\r\nGUEST-DD 43\r\n"), "all of it, before the wait returned");
    }

    [Test]
    public void A_host_that_takes_nothing_holds_the_wait_only_as_long_as_asked_and_loses_nothing()
    {
        using var host = new GatedStream();
        using var output = new SerialConsoleOutput(host);
        Transmit(output, "held\n");

        Assert.That(output.WaitWritten(TimeSpan.FromMilliseconds(100)), Is.False);
        host.Gate.Set();
        output.Complete();
        Assert.That(host.Text, Is.EqualTo("held\n"));
    }

    [Test]
    public void With_nothing_written_the_wait_returns_at_once()
    {
        using var host = new GatedStream();
        using var output = new SerialConsoleOutput(host);
        Assert.That(output.WaitWritten(TimeSpan.Zero), Is.True);
        host.Gate.Set();
    }

    [Test]
    public void The_wait_covers_an_unfinished_line_which_goes_out_after_its_hold()
    {
        var host = new WriteRecorder();
        using var output = new SerialConsoleOutput(host, TimeSpan.FromMilliseconds(20));
        Transmit(output, "GUEST-DD 7\r\n# ");
        Assert.That(output.WaitWritten(Patience), Is.True);
        Assert.That(host.Text, Is.EqualTo("GUEST-DD 7\r\n# "));
    }

    // As the UART sends: one byte at a time, each followed by a flush.
    private static void Transmit(SerialConsoleOutput output, string text)
    {
        foreach (byte b in Encoding.ASCII.GetBytes(text))
        {
            output.Sink.WriteByte(b);
            output.Sink.Flush();
        }
    }

    /// <summary>The host's stream: what each flush delivered, as one write.</summary>
    private sealed class WriteRecorder : Stream
    {
        private readonly List<string> _writes = [];
        private readonly StringBuilder _pending = new();

        public string[] Writes
        {
            get { lock (_writes) return [.. _writes]; }
        }

        public string Text
        {
            get { lock (_writes) return string.Concat(_writes); }
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(ReadOnlySpan<byte> buffer) => _pending.Append(Encoding.ASCII.GetString(buffer));

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Flush()
        {
            lock (_writes)
                _writes.Add(_pending.ToString());
            _pending.Clear();
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>The host's stream: each write waits until the test opens the gate (a slow terminal or a busy host).</summary>
    private sealed class GatedStream : Stream
    {
        private readonly MemoryStream _written = new();

        public ManualResetEventSlim Gate { get; } = new();

        public string Text
        {
            get
            {
                lock (_written)
                    return Encoding.ASCII.GetString(_written.ToArray());
            }
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Gate.Wait();
            lock (_written)
                _written.Write(buffer);
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                Gate.Dispose();
            base.Dispose(disposing);
        }
    }
}
