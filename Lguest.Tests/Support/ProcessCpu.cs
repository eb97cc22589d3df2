using System.Globalization;

namespace Lguest.Tests.Support;

/// <summary>
/// A process's CPU time from /proc (user + system clock ticks, proc(5)'s utime and stime), for the whole process and
/// per thread, so a test can tell an idle process from one that spins, and name the thread that does.
/// </summary>
internal static class ProcessCpu
{
    /// <summary>The process's user + system clock ticks so far (every thread, living or ended).</summary>
    public static long Ticks(int pid) => Parse(File.ReadAllText($"/proc/{pid}/stat")).Ticks;

    /// <summary>Each living thread's name (comm) and id with its user + system clock ticks so far.</summary>
    public static Dictionary<string, long> ThreadTicks(int pid)
    {
        var threads = new Dictionary<string, long>();
        foreach (string task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                (string name, long ticks) = Parse(File.ReadAllText(Path.Combine(task, "stat")));
                threads[$"{name}/{Path.GetFileName(task)}"] = ticks;
            }
            catch (IOException)
            {
                // the thread ended meanwhile
            }
        }
        return threads;
    }

    /// <summary>The threads that spent ticks between two <see cref="ThreadTicks"/> samples, busiest first, as "name/tid:ticks".</summary>
    public static string Busiest(Dictionary<string, long> before, Dictionary<string, long> after) =>
        string.Join(' ', after.Select(t => (t.Key, Spent: t.Value - before.GetValueOrDefault(t.Key)))
            .Where(t => t.Spent > 0).OrderByDescending(t => t.Spent).Select(t => $"{t.Key}:{t.Spent}"));

    // "pid (comm) state ppid ... utime stime ...": comm may hold spaces and parentheses, so it ends at the last ')'.
    private static (string Name, long Ticks) Parse(string stat)
    {
        int open = stat.IndexOf('(', StringComparison.Ordinal), close = stat.LastIndexOf(')');
        string[] fields = stat[(close + 2)..].Split(' ');
        // fields[0] is the state (field 3 of proc(5)): utime is field 14, stime field 15.
        return (stat[(open + 1)..close], long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture));
    }
}
