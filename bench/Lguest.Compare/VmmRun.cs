using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Lguest.Compare;

/// <summary>
/// One run of a VMM as a child process: every chunk of its standard output stamped with the monotonic clock
/// as it arrives (so the first byte's time is the start-up latency), its exit time, its CPU time from wait4,
/// and, between two console markers, samples of its memory from /proc/PID/smaps.
/// </summary>
internal sealed class VmmRun
{
    private readonly List<(double Time, string Line)> _lines = [];

    private VmmRun()
    {
    }

    /// <summary>Seconds from just before posix_spawn to the first byte on standard output (NaN: none came).</summary>
    public double FirstByte { get; private set; } = double.NaN;

    /// <summary>Seconds from just before posix_spawn to wait4 returning.</summary>
    public double Exit { get; private set; }

    /// <summary>The exit status (128 + signal when a signal ended it).</summary>
    public int Status { get; private set; }

    /// <summary>User plus system CPU seconds of the child, all its threads (wait4's rusage).</summary>
    public double CpuSeconds => UserSeconds + SystemSeconds;

    /// <summary>User-mode CPU seconds of the child: the VMM's own code.</summary>
    public double UserSeconds { get; private set; }

    /// <summary>Kernel-mode CPU seconds of the child: its system calls, KVM_RUN and the guest's time in it.</summary>
    public double SystemSeconds { get; private set; }

    /// <summary>Whether the harness had to kill the child at its time limit.</summary>
    public bool TimedOut { get; private set; }

    /// <summary>The largest sample of resident memory outside the guest RAM mapping, KiB (0: no sample).</summary>
    public long PeakVmmRssKiB { get; private set; }

    /// <summary>The guest RAM mapping's resident size in the sample of <see cref="PeakVmmRssKiB"/>, KiB.</summary>
    public long GuestRssKiB { get; private set; }

    /// <summary>How many smaps samples were taken.</summary>
    public int Samples { get; private set; }

    /// <summary>The child's standard error (diagnostics for a failed run).</summary>
    public string Stderr { get; private set; } = "";

    /// <summary>The console, line by line with the time each line was complete.</summary>
    public IReadOnlyList<(double Time, string Line)> Lines => _lines;

    /// <summary>The console as text.</summary>
    public string Console => string.Join('\n', _lines.Select(l => l.Line));

    /// <summary>When the first line starting with <paramref name="prefix"/> was complete (NaN: never).</summary>
    public double TimeOf(string prefix)
    {
        foreach ((double time, string line) in _lines)
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
                return time;
        }
        return double.NaN;
    }

    /// <summary>The first line starting with <paramref name="prefix"/>, or null.</summary>
    public string? LineOf(string prefix) => _lines.Select(l => l.Line).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>
    /// Runs <paramref name="argv"/> to its end (killing it after <paramref name="timeout"/>). With
    /// <paramref name="sampleWindow"/>, samples /proc/PID/smaps every ~10 ms from the line starting with its
    /// first marker to the line starting with its second, taking the guest RAM mapping to be the one(s) of
    /// exactly <paramref name="guestBytes"/> bytes.
    /// </summary>
    public static VmmRun Run(IReadOnlyList<string> argv, TimeSpan timeout, (string Start, string End)? sampleWindow = null, ulong guestBytes = 0)
    {
        var run = new VmmRun();
        string stderrPath = Path.Combine(Path.GetTempPath(), $"lguest-compare-{Environment.ProcessId}.stderr");
        (int readFd, int writeFd) = Posix.Pipe();
        long origin = Stopwatch.GetTimestamp();
        int pid;
        try
        {
            pid = Posix.Spawn(argv, writeFd, stderrPath);
        }
        finally
        {
            _ = Posix.Close(writeFd);
        }

        using var windowOpen = new ManualResetEventSlim();
        using var windowClosed = new ManualResetEventSlim();
        var reader = new Thread(() => ReadConsole(run, readFd, origin, sampleWindow, windowOpen, windowClosed)) { IsBackground = true, Name = "console" };
        reader.Start();

        using var killer = new Timer(_ =>
        {
            run.TimedOut = true;
            _ = Posix.Kill(pid, Posix.SigKill);
        }, null, timeout, Timeout.InfiniteTimeSpan);

        if (sampleWindow is not null)
        {
            // The reader sets windowClosed at end of file too, so a run that dies in the window ends the loop.
            if (WaitHandle.WaitAny([windowOpen.WaitHandle, windowClosed.WaitHandle]) == 0)
            {
                while (!windowClosed.IsSet)
                {
                    if (TrySample(pid, guestBytes, out long total, out long guest))
                    {
                        run.Samples++;
                        if (total - guest > run.PeakVmmRssKiB)
                        {
                            run.PeakVmmRssKiB = total - guest;
                            run.GuestRssKiB = guest;
                        }
                    }
                    windowClosed.Wait(10);
                }
            }
        }

        (int status, Posix.RUsage usage) = Posix.Wait(pid);
        run.Exit = Stopwatch.GetElapsedTime(origin).TotalSeconds;
        killer.Change(Timeout.Infinite, Timeout.Infinite);
        reader.Join();
        _ = Posix.Close(readFd);
        run.Status = status;
        run.UserSeconds = usage.UserSecondsTotal;
        run.SystemSeconds = usage.SystemSecondsTotal;
        run.Stderr = File.Exists(stderrPath) ? File.ReadAllText(stderrPath) : "";
        File.Delete(stderrPath);
        return run;
    }

    private static void ReadConsole(VmmRun run, int fd, long origin, (string Start, string End)? window, ManualResetEventSlim open, ManualResetEventSlim closed)
    {
        var buffer = new byte[4096];
        var line = new StringBuilder();
        for (; ; )
        {
            int n = Posix.Read(fd, buffer);
            double now = Stopwatch.GetElapsedTime(origin).TotalSeconds;
            if (n == 0)
                break;
            if (double.IsNaN(run.FirstByte))
                run.FirstByte = now;
            foreach (char c in Encoding.Latin1.GetString(buffer, 0, n))
            {
                if (c == '\r')
                    continue;
                if (c != '\n')
                {
                    line.Append(c);
                    continue;
                }
                string text = line.ToString();
                line.Clear();
                lock (run._lines)
                    run._lines.Add((now, text));
                if (window is not null && text.StartsWith(window.Value.Start, StringComparison.Ordinal))
                    open.Set();
                if (window is not null && text.StartsWith(window.Value.End, StringComparison.Ordinal))
                    closed.Set();
            }
        }
        if (line.Length > 0)
        {
            lock (run._lines)
                run._lines.Add((Stopwatch.GetElapsedTime(origin).TotalSeconds, line.ToString()));
        }
        closed.Set();
    }

    /// <summary>Sums Rss over every mapping of <paramref name="pid"/>, and separately over the guest RAM mapping(s).</summary>
    internal static bool TrySample(int pid, ulong guestBytes, out long totalKiB, out long guestKiB)
    {
        totalKiB = 0;
        guestKiB = 0;
        string[] smaps;
        try
        {
            smaps = File.ReadAllLines($"/proc/{pid}/smaps");
        }
        catch (IOException)
        {
            return false;
        }
        if (smaps.Length == 0)
            return false; // a zombie: it exited between two samples
        bool inGuest = false;
        foreach (string line in smaps)
        {
            int dash = line.IndexOf('-', StringComparison.Ordinal);
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong start)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong end))
            {
                inGuest = guestBytes != 0 && end - start == guestBytes;
                continue;
            }
            if (line.StartsWith("Rss:", StringComparison.Ordinal))
            {
                long kib = long.Parse(line.AsSpan(4).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture);
                totalKiB += kib;
                if (inGuest)
                    guestKiB += kib;
            }
        }
        return true;
    }
}
