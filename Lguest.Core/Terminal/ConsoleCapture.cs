using System.Text;
using System.Threading.Channels;

namespace Lguest.Terminal;

/// <summary>
/// The guest's console output as lines, for a program that embeds the launcher: give <see cref="Output"/> to a
/// console as its host side (<c>LauncherOptions.ConsoleOutput</c> for the PC's UART, <c>VirtioConsoleOptions.Output</c>
/// for a virtio console), then take the lines as events (<see cref="LineReceived"/>), as an async stream
/// (<see cref="ReadLinesAsync"/>), or wait for one (<see cref="WaitForLineAsync"/>).
/// The bytes can also go on, untouched, to an echo stream (a terminal, a log file).
/// </summary>
/// <remarks>
/// <para>
/// Lines are decoded as UTF-8 (an invalid sequence becomes U+FFFD), split at '\n', with a trailing '\r' removed. A
/// line longer than <see cref="MaxLineLength"/> characters is delivered in pieces of that length: a guest that never
/// writes a newline cannot grow the host's memory. <see cref="Complete"/> delivers a last unfinished line and ends
/// every reader; <c>Launcher.RunUntilAsync</c> calls it when the run ends.
/// </para>
/// <para>
/// Nothing is dropped: a reader of <see cref="ReadLinesAsync"/> that falls <see cref="ReaderCapacity"/> lines behind
/// makes the console's writer wait (the guest's console then waits, as a terminal stopped with Ctrl-S makes it). Events
/// and readers see the lines that arrive after they subscribe, in order, on the thread that wrote them (the serial
/// console's output thread, a virtio console's worker): handlers must be quick, and an exception from one is ignored.
/// Use one capture per console.
/// </para>
/// </remarks>
public sealed class ConsoleCapture : IDisposable
{
    /// <summary>The longest line delivered whole, in characters; longer ones come in pieces of this length.</summary>
    public const int MaxLineLength = 4096;

    /// <summary>How many lines a <see cref="ReadLinesAsync"/> reader may fall behind before the guest's console waits for it.</summary>
    public const int ReaderCapacity = 1024;

    private readonly Stream? _echo;
    private readonly Lock _lock = new();
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private readonly StringBuilder _line = new();
    private readonly char[] _chars = new char[1024];
    private readonly List<Channel<string>> _readers = [];
    private readonly List<Waiter> _waiters = [];
    private bool _completed;

    /// <summary>Creates a capture.</summary>
    /// <param name="echo">Where the bytes also go, as written (this process's standard output, a log file); null for nowhere.</param>
    public ConsoleCapture(Stream? echo = null)
    {
        if (echo is { CanWrite: false })
            throw new ArgumentException("the echo stream cannot be written", nameof(echo));
        _echo = echo;
        Output = new CaptureStream(this);
    }

    /// <summary>A line arrived.</summary>
    public event EventHandler<ConsoleLineEventArgs>? LineReceived;

    /// <summary>The stream to give a console as its output: write-only, every write taken as the guest's bytes.</summary>
    public Stream Output { get; }

    /// <summary>How many lines have been delivered so far.</summary>
    public long LineCount { get; private set; }

    /// <summary>
    /// The lines from the start of the enumeration on (<c>await foreach</c> starts it), until <see cref="Complete"/>
    /// (then what is buffered, then the end) or a cancellation (then <see cref="OperationCanceledException"/>).
    /// Disposing the enumerator (leaving the loop) ends the subscription.
    /// </summary>
    /// <param name="cancellationToken">Ends the enumeration; the enumerator's own token does too.</param>
    public IAsyncEnumerable<string> ReadLinesAsync(CancellationToken cancellationToken = default) => new LineStream(this, cancellationToken);

    /// <summary>
    /// The first line from this call on that <paramref name="match"/> accepts; null if <paramref name="timeout"/> passes
    /// (null or <see cref="Timeout.InfiniteTimeSpan"/>: never) or <see cref="Complete"/> comes first. The predicate runs on
    /// the thread that delivers the line; an exception from it fails the task.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public async Task<string?> WaitForLineAsync(Func<string, bool> match, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(match);
        var waiter = new Waiter(match);
        lock (_lock)
        {
            if (_completed)
                return null;
            _waiters.Add(waiter);
        }
        try
        {
            using var timer = new CancellationTokenSource();
            if (timeout is { } limit && limit != Timeout.InfiniteTimeSpan)
                timer.CancelAfter(limit);
            using CancellationTokenRegistration onTimeout = timer.Token.Register(() => waiter.Result.TrySetResult(null));
            using CancellationTokenRegistration onCancel = cancellationToken.Register(() => waiter.Result.TrySetCanceled(cancellationToken));
            return await waiter.Result.Task.ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
                _waiters.Remove(waiter);
        }
    }

    /// <summary>
    /// The console is over (the run ended): delivers the unfinished last line, if any, ends every reader after what it
    /// holds, and answers every waiter with null. Later output is still echoed but no longer split into lines.
    /// </summary>
    public void Complete()
    {
        lock (_lock)
        {
            if (_completed)
                return;
            FlushDecoder();
            if (_line.Length > 0)
                Deliver(TakeLine());
            _completed = true;
            foreach (Channel<string> reader in _readers)
                reader.Writer.TryComplete();
            _readers.Clear();
            foreach (Waiter waiter in _waiters)
                waiter.Result.TrySetResult(null);
        }
    }

    /// <summary>Same as <see cref="Complete"/>.</summary>
    public void Dispose() => Complete();

    private Channel<string> Subscribe()
    {
        var channel = Channel.CreateBounded<string>(new BoundedChannelOptions(ReaderCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        lock (_lock)
        {
            if (_completed)
                channel.Writer.TryComplete();
            else
                _readers.Add(channel);
        }
        return channel;
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        _echo?.Write(bytes);
        lock (_lock)
        {
            if (_completed)
                return;
            while (!bytes.IsEmpty)
            {
                _decoder.Convert(bytes, _chars, flush: false, out int used, out int produced, out _);
                bytes = bytes[used..];
                Split(_chars.AsSpan(0, produced));
            }
        }
    }

    private void FlushDecoder()
    {
        _decoder.Convert([], _chars, flush: true, out _, out int produced, out _);
        Split(_chars.AsSpan(0, produced));
    }

    private void Split(ReadOnlySpan<char> chars)
    {
        foreach (char c in chars)
        {
            if (c == '\n')
            {
                Deliver(TakeLine());
                continue;
            }
            _line.Append(c);
            if (_line.Length == MaxLineLength)
                Deliver(TakeLine());
        }
    }

    private string TakeLine()
    {
        int length = _line.Length;
        if (length > 0 && _line[length - 1] == '\r')
            length--;
        string line = _line.ToString(0, length);
        _line.Clear();
        return line;
    }

    // Under _lock: one line at a time, in order, to every subscriber.
    private void Deliver(string line)
    {
        LineCount++;
        try
        {
            LineReceived?.Invoke(this, new ConsoleLineEventArgs(line));
        }
#pragma warning disable CA1031 // an embedder's handler must not stop the guest's console (nor its writer's thread)
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        foreach (Channel<string> reader in _readers.ToArray())
        {
            if (reader.Writer.TryWrite(line))
                continue;
            try
            {
                // The reader is ReaderCapacity lines behind: wait for it (the guest's console waits with us).
                reader.Writer.WriteAsync(line).AsTask().GetAwaiter().GetResult();
            }
            catch (ChannelClosedException)
            {
                _readers.Remove(reader);
            }
        }
        foreach (Waiter waiter in _waiters.ToArray())
        {
            try
            {
                if (waiter.Match(line))
                    waiter.Result.TrySetResult(line);
            }
#pragma warning disable CA1031 // the caller's predicate failed: its task says so, the console goes on
            catch (Exception e)
#pragma warning restore CA1031
            {
                waiter.Result.TrySetException(e);
            }
        }
    }

    private sealed class LineStream(ConsoleCapture capture, CancellationToken cancellation) : IAsyncEnumerable<string>
    {
        public IAsyncEnumerator<string> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
            new LineReader(capture.Subscribe(), cancellation.CanBeCanceled ? cancellation : cancellationToken);
    }

    private sealed class LineReader(Channel<string> channel, CancellationToken cancellation) : IAsyncEnumerator<string>
    {
        public string Current { get; private set; } = "";

        public async ValueTask<bool> MoveNextAsync()
        {
            while (true)
            {
                if (channel.Reader.TryRead(out string? line))
                {
                    Current = line;
                    return true;
                }
                if (!await channel.Reader.WaitToReadAsync(cancellation).ConfigureAwait(false))
                    return false;
            }
        }

        public ValueTask DisposeAsync()
        {
            // A writer waiting for room in this reader's buffer gives up on it.
            channel.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Waiter(Func<string, bool> match)
    {
        public Func<string, bool> Match { get; } = match;

        public TaskCompletionSource<string?> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class CaptureStream(ConsoleCapture capture) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(ReadOnlySpan<byte> buffer) => capture.Write(buffer);

        public override void Write(byte[] buffer, int offset, int count) => capture.Write(buffer.AsSpan(offset, count));

        public override void WriteByte(byte value) => capture.Write([value]);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            capture.Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            capture.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush() => capture._echo?.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
