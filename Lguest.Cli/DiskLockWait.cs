using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Cli;

/// <summary>
/// A restore's wait for its disks' locks. The block device opens a read-write image with .NET's exclusive advisory
/// lock (flock), which a launcher killed just before can hold a little longer than its process: the kernel tears its
/// io_uring down after the process is gone, and the requests still in it hold the file (200 ms in one CI run). A
/// restore started right after such a kill, the usual way to replace a guest with its snapshot, waits for the lock a
/// bounded while instead of failing with "being used by another process"; a live launcher's lock outlasts the wait,
/// and the device's own open then says so.
/// </summary>
internal static class DiskLockWait
{
    /// <summary>How long a restore waits for each disk's lock: many times what a killed launcher's teardown takes.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    // How often the lock is tried meanwhile: short beside the teardown, few opens in all (100 at most).
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    // What .NET's IOException carries when the file's flock is held elsewhere (EWOULDBLOCK on Linux).
    private const int LockHeldElsewhere = 11;

    /// <summary>
    /// Waits up to <see cref="Limit"/> for each block device's image of <paramref name="arguments"/> to be free of
    /// another process's lock, taken as the device takes it; says so in one line on <paramref name="error"/> when a
    /// disk is waited for. Returns at once when none is held; any other trouble is left to the device's own open.
    /// </summary>
    public static void ForDisks(RunArguments arguments, TextWriter error)
    {
        foreach (DeviceOption disk in arguments.Devices.Where(d => d.Kind == DeviceKind.Block))
        {
            string path = disk.Value!;
            WaitFor(path, disk.ReadOnly, Limit, () => error.WriteLine(
                $"lguest: disk image '{path}' is locked by another process; waiting up to {Limit.TotalSeconds:F0} s for it (a launcher killed just now lets go of it shortly)"));
        }
    }

    /// <summary>
    /// Tries the image's lock (exclusive, or shared for <paramref name="readOnly"/>) until it is free or
    /// <paramref name="limit"/> has passed; calls <paramref name="waiting"/> once if it has to wait. True when the lock
    /// was free (or the open failed otherwise: not this wait's to report), false when it was still held at the end.
    /// </summary>
    internal static bool WaitFor(string path, bool readOnly, TimeSpan limit, Action waiting)
    {
        long start = Stopwatch.GetTimestamp();
        bool said = false;
        while (true)
        {
            try
            {
                using SafeFileHandle probe = readOnly
                    ? File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read)
                    : File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                return true;
            }
            catch (IOException e) when (e.HResult == LockHeldElsewhere)
            {
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return true;
            }
            if (Stopwatch.GetElapsedTime(start) >= limit)
                return false;
            if (!said)
            {
                waiting();
                said = true;
            }
            Thread.Sleep(Poll);
        }
    }
}
