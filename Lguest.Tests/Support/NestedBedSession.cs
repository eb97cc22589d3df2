using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Lguest.Tests.Support;

/// <summary>
/// A nested bed run in progress (<see cref="NestedBed.Start"/>): the test reads L1's console as it comes,
/// waits for what it expects, types into the console (bed.sh forwards its stdin to L1's console, which is
/// the terminal of the command running there), then collects the <see cref="NestedBedRun"/>.
/// </summary>
/// <remarks>
/// Waits run front to back like <c>expect</c>: each <see cref="WaitFor(string)"/> looks only after the
/// previous match, so <c>WaitFor("GUEST-INIT-READY")</c> twice waits for the second boot. A wait ends when
/// the text appears or when the bed has exited (bed.sh's own timeout stops a hung L1); there is no time
/// limit of the test's own.
/// </remarks>
public sealed class NestedBedSession : IDisposable
{
    private readonly Process _process;
    private readonly string _command;
    private readonly TimeSpan _timeout;
    private readonly Stopwatch _clock;
    private readonly StringBuilder _transcript = new();
    private readonly List<(int End, TimeSpan At)> _arrivals = [];
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private readonly Task _reader;
    private int _cursor;

    internal NestedBedSession(Process process, string command, TimeSpan timeout, Stopwatch clock)
    {
        _process = process;
        _command = command;
        _timeout = timeout;
        _clock = clock;
        _reader = Task.Run(ReadOutput);
    }

    /// <summary>L1's console and bed.sh's messages so far, carriage returns removed.</summary>
    public string Transcript
    {
        get
        {
            lock (_lock)
                return _transcript.ToString();
        }
    }

    /// <summary>Whether bed.sh (and so L1) has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Waits for <paramref name="text"/> after the previous match; fails the test with the transcript if the bed ends first.</summary>
    public void WaitFor(string text) =>
        WaitFor(new Regex(Regex.Escape(text), RegexOptions.CultureInvariant), text);

    /// <summary>Waits for a match of <paramref name="pattern"/> after the previous match; fails the test if the bed ends first.</summary>
    public void WaitFor(Regex pattern, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        while (true)
        {
            bool exited = _process.HasExited;
            if (exited)
                _reader.Wait(); // everything L1 printed is in the transcript now
            string transcript = Transcript;
            Match match = pattern.Match(transcript, Math.Min(_cursor, transcript.Length));
            if (match.Success)
            {
                _cursor = match.Index + match.Length;
                return;
            }
            if (exited)
                Assert.Fail($"the bed ended before \"{description ?? pattern.ToString()}\" appeared\n{Collect()}");
            _arrived.Wait(TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>
    /// Waits for the busybox shell's prompt (<c>/ # </c>, or another directory) after the previous match:
    /// keys typed before the guest's shell reads its terminal may be lost or echoed by L1's tty.
    /// </summary>
    public void WaitForShellPrompt() => WaitFor(ShellPrompt, "the guest shell's prompt");

    /// <summary>Types <paramref name="keys"/> into L1's console (\n for Enter, \u0001 x for lguest's escape).</summary>
    public void Type(string keys)
    {
        _process.StandardInput.Write(keys);
        _process.StandardInput.Flush();
    }

    /// <summary>When <paramref name="text"/> first reached the test, counted from the start of bed.sh; null if it never did.</summary>
    public TimeSpan? TimeOf(string text)
    {
        lock (_lock)
        {
            int index = _transcript.ToString().IndexOf(text, StringComparison.Ordinal);
            if (index < 0)
                return null;
            int end = index + text.Length;
            foreach ((int chunkEnd, TimeSpan at) in _arrivals)
            {
                if (chunkEnd >= end)
                    return at;
            }
            return null;
        }
    }

    /// <summary>Closes the console's input, waits for bed.sh to end and returns what the run left behind.</summary>
    public NestedBedRun Finish()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // bed.sh went away between the check and the close: nothing more to tell it.
            }
        }
        // bed.sh stops L1 itself at its timeout; this is the backstop should bed.sh itself hang.
        if (!_process.WaitForExit(_timeout + TimeSpan.FromMinutes(1)))
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        _reader.Wait();
        _clock.Stop();
        string all = Transcript;
        TestContext.Out.WriteLine($"bed: `{_command}` exited {_process.ExitCode} after {_clock.Elapsed.TotalSeconds:F1} s");
        return new NestedBedRun(KernelLogUntangler.Untangle(CommandPart(all)), all, _process.ExitCode, _clock.Elapsed);
    }

    /// <summary>Stops the bed if it still runs (a failed test), and releases the process.</summary>
    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        _reader.Wait();
        _process.Dispose();
        _arrived.Dispose();
    }

    /// <summary>The command's part of a transcript: between BED-COMMAND-START and the last BED-EXIT.</summary>
    internal static string CommandPart(string transcript)
    {
        const string Start = "BED-COMMAND-START\n";
        int from = transcript.IndexOf(Start, StringComparison.Ordinal);
        if (from < 0)
            return "";
        from += Start.Length;
        int to = transcript.LastIndexOf("BED-EXIT ", StringComparison.Ordinal);
        return to >= from ? transcript[from..to] : transcript[from..];
    }

    private static readonly Regex ShellPrompt = new(@"(?:^|\n)[/~][^\n]* # ", RegexOptions.CultureInvariant);

    private string Collect()
    {
        if (!_process.HasExited)
            return Transcript;
        return $"bed exit {_process.ExitCode} after {_clock.Elapsed.TotalSeconds:F1} s\n{Transcript}";
    }

    private async Task ReadOutput()
    {
        // Raw chunks, not lines: a shell prompt has no newline after it.
        var buffer = new char[4096];
        StreamReader output = _process.StandardOutput;
        while (true)
        {
            int read = await output.ReadAsync(buffer.AsMemory()).ConfigureAwait(false);
            if (read == 0)
                return;
            string text = new string(buffer, 0, read).Replace("\r", "", StringComparison.Ordinal);
            lock (_lock)
            {
                _transcript.Append(text);
                _arrivals.Add((_transcript.Length, _clock.Elapsed));
            }
            _arrived.Release();
        }
    }
}
