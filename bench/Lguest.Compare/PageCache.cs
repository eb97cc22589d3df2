using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Lguest.Compare;

/// <summary>
/// Brings the page cache to the same state before each timed block measurement: nothing dirty and nothing under
/// writeback, the images' pages still cached (clean). A buffered write costs more when it turns a clean page dirty
/// (dirty accounting, the file system's write path) than when it rewrites a dirty one, and much more when the page is
/// under writeback or the flusher thread takes a core beside it; without this, a side measured after another side
/// had dirtied its image ran on whatever the last 30 s of writes left, and random 4 KiB write rounds swung 0.22-3.16
/// (issue 20's sixth pass). Dropping the pages instead (POSIX_FADV_DONTNEED) would make every read a disk read; the
/// benchmark measures the device's overhead on a cached image.
/// </summary>
internal static partial class PageCache
{
    /// <summary>
    /// Dirty plus writeback memory (KiB) under which the machine counts as settled after the sync: what a quiet
    /// host's own logging and other programs keep dirty at any moment (tens of MiB on this shared one), far under
    /// the 256 MiB one image can hold.
    /// </summary>
    private const long SettledKiB = 32 << 10;

    /// <summary>
    /// The longest the settle waits, after its sync, for other programs' dirty data to go: past it the measurement
    /// goes ahead (the benchmark's own images are clean by then) and the caller logs what was left.
    /// </summary>
    private static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(500);

    /// <summary>How often the wait reads /proc/meminfo.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Writes back every dirty page of the machine (sync(2), which returns once the writeback has finished), then
    /// waits (at most <see cref="MaxWait"/>) until Dirty + Writeback is under <see cref="SettledKiB"/>; returns that
    /// sum, in KiB, at the end.
    /// </summary>
    public static long Settle()
    {
        Sync();
        long start = Stopwatch.GetTimestamp();
        long dirty = DirtyKiB();
        while (dirty > SettledKiB && Stopwatch.GetElapsedTime(start) < MaxWait)
        {
            Thread.Sleep(Poll);
            dirty = DirtyKiB();
        }
        return dirty;
    }

    /// <summary>/proc/meminfo's Dirty plus Writeback, in KiB (0 where it cannot be read).</summary>
    public static long DirtyKiB()
    {
        long sum = 0;
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith("Dirty:", StringComparison.Ordinal) && !line.StartsWith("Writeback:", StringComparison.Ordinal))
                    continue;
                string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length >= 2 && long.TryParse(fields[1], out long kib))
                    sum += kib;
            }
        }
        catch (IOException)
        {
            return 0;
        }
        return sum;
    }

    [LibraryImport("libc", EntryPoint = "sync")]
    private static partial void Sync();
}
