using System.Text;
using Lguest.Terminal;

namespace Lguest.Tests.Terminal;

public class ConsoleCaptureTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static void Write(ConsoleCapture capture, string text) => capture.Output.Write(Encoding.UTF8.GetBytes(text));

    private static List<string> Lines(ConsoleCapture capture)
    {
        var lines = new List<string>();
        capture.LineReceived += (_, e) => lines.Add(e.Line);
        return lines;
    }

    [Test]
    public void Lines_split_at_newlines_lose_their_line_ends_and_may_come_in_any_pieces()
    {
        using var capture = new ConsoleCapture();
        List<string> lines = Lines(capture);
        Write(capture, "[    0.000000] Linux version\r\nGUEST-");
        Write(capture, "INIT-READY\n\nlast");
        Assert.That(lines, Is.EqualTo(new[] { "[    0.000000] Linux version", "GUEST-INIT-READY", "" }));
        capture.Complete();
        Assert.That(lines, Is.EqualTo(new[] { "[    0.000000] Linux version", "GUEST-INIT-READY", "", "last" }), "Complete delivers the unfinished line");
        Assert.That(capture.LineCount, Is.EqualTo(4));
    }

    [Test]
    public void A_UTF8_character_split_across_writes_is_decoded_whole_and_invalid_bytes_become_replacement_characters()
    {
        using var capture = new ConsoleCapture();
        List<string> lines = Lines(capture);
        byte[] euro = Encoding.UTF8.GetBytes("€"); // three bytes
        capture.Output.Write(euro.AsSpan(0, 1));
        capture.Output.Write(euro.AsSpan(1));
        capture.Output.Write([0xff, (byte)'\n']);
        Assert.That(lines, Is.EqualTo(new[] { "€\uFFFD" }));
    }

    [Test]
    public void A_guest_that_never_writes_a_newline_gets_its_output_in_pieces_of_the_longest_line()
    {
        using var capture = new ConsoleCapture();
        List<string> lines = Lines(capture);
        Write(capture, new string('x', ConsoleCapture.MaxLineLength * 2 + 5));
        Assert.That(lines.Select(l => l.Length), Is.EqualTo(new[] { ConsoleCapture.MaxLineLength, ConsoleCapture.MaxLineLength }));
        capture.Complete();
        Assert.That(lines[^1], Is.EqualTo("xxxxx"));
    }

    [Test]
    public void The_bytes_also_go_untouched_to_the_echo_stream()
    {
        var echo = new MemoryStream();
        using var capture = new ConsoleCapture(echo);
        capture.Output.Write([0x1b, (byte)'[', (byte)'m', (byte)'\r', (byte)'\n', 0xff]);
        Assert.That(echo.ToArray(), Is.EqualTo(new byte[] { 0x1b, (byte)'[', (byte)'m', (byte)'\r', (byte)'\n', 0xff }));
    }

    [Test]
    public async Task ReadLinesAsync_gives_the_lines_from_the_enumeration_s_start_in_order_and_ends_after_complete()
    {
        using var capture = new ConsoleCapture();
        Write(capture, "before the call\n");
        await using IAsyncEnumerator<string> lines = capture.ReadLinesAsync().GetAsyncEnumerator();
        Write(capture, "one\ntwo\n");
        Task writer = Task.Run(() =>
        {
            Write(capture, "three\n");
            capture.Complete();
        });
        var seen = new List<string>();
        while (await lines.MoveNextAsync())
            seen.Add(lines.Current);
        await writer;
        Assert.That(seen, Is.EqualTo(new[] { "one", "two", "three" }));
    }

    [Test]
    public async Task A_reader_that_falls_behind_makes_the_writer_wait_and_loses_nothing()
    {
        using var capture = new ConsoleCapture();
        await using IAsyncEnumerator<string> reader = capture.ReadLinesAsync().GetAsyncEnumerator();
        int total = ConsoleCapture.ReaderCapacity + 10;
        Task writer = Task.Run(() =>
        {
            for (int i = 0; i < total; i++)
                Write(capture, $"{i}\n");
        });
        Assert.That(SpinWait.SpinUntil(() => capture.LineCount == ConsoleCapture.ReaderCapacity + 1, Patience), Is.True);
        Thread.Sleep(100);
        Assert.That((writer.IsCompleted, capture.LineCount), Is.EqualTo((false, ConsoleCapture.ReaderCapacity + 1L)), "the writer waits for the reader");
        for (int i = 0; i < total; i++)
        {
            Assert.That(await reader.MoveNextAsync(), Is.True);
            Assert.That(reader.Current, Is.EqualTo(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        await writer;
    }

    [Test]
    public async Task A_reader_that_stops_reading_releases_the_writer()
    {
        using var capture = new ConsoleCapture();
        IAsyncEnumerator<string> reader = capture.ReadLinesAsync().GetAsyncEnumerator();
        Task writer = Task.Run(() =>
        {
            for (int i = 0; i < ConsoleCapture.ReaderCapacity * 2; i++)
                Write(capture, "line\n");
        });
        await reader.DisposeAsync();
        Assert.That(writer.Wait(Patience), Is.True);
    }

    [Test]
    public async Task WaitForLineAsync_returns_the_first_matching_line_from_the_call_on()
    {
        using var capture = new ConsoleCapture();
        Write(capture, "GUEST-READY too early\n");
        Task<string?> ready = capture.WaitForLineAsync(l => l.StartsWith("GUEST-READY", StringComparison.Ordinal));
        Write(capture, "noise\nGUEST-READY 1\nGUEST-READY 2\n");
        Assert.That(await ready, Is.EqualTo("GUEST-READY 1"));
    }

    [Test]
    public async Task WaitForLineAsync_returns_null_on_its_timeout_or_when_the_console_completes()
    {
        using var capture = new ConsoleCapture();
        Assert.That(await capture.WaitForLineAsync(_ => true, TimeSpan.FromMilliseconds(50)), Is.Null);
        Task<string?> never = capture.WaitForLineAsync(l => l == "never");
        Write(capture, "something else\n");
        capture.Complete();
        Assert.That(await never, Is.Null);
        Assert.That(await capture.WaitForLineAsync(_ => true), Is.Null, "a completed console answers at once");
    }

    [Test]
    public void WaitForLineAsync_is_cancelled_by_its_token()
    {
        using var capture = new ConsoleCapture();
        using var cancel = new CancellationTokenSource();
        Task<string?> waiting = capture.WaitForLineAsync(_ => true, cancellationToken: cancel.Token);
        cancel.Cancel();
        Assert.That(async () => await waiting, Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public void A_predicate_or_handler_that_throws_does_not_stop_the_console()
    {
        using var capture = new ConsoleCapture();
        capture.LineReceived += (_, _) => throw new InvalidOperationException("handler bug");
        Task<string?> failing = capture.WaitForLineAsync(_ => throw new InvalidOperationException("predicate bug"));
        Task<string?> working = capture.WaitForLineAsync(l => l == "b");
        Write(capture, "a\nb\n");
        Assert.That(async () => await failing, Throws.InvalidOperationException.With.Message.EqualTo("predicate bug"));
        Assert.That(working.Result, Is.EqualTo("b"));
    }
}
