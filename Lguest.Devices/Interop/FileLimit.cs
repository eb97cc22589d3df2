using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// RLIMIT_NOFILE, the process's limit on open descriptors: a shared folder holds one per node the guest knows,
/// and a Linux guest keeps a node for every name in its dentry cache. The JIT runtime raises the soft limit to
/// the hard one at start; a NativeAOT process keeps the soft limit it was given (often 1,024), so the device
/// raises it itself, as virtiofsd does.
/// </summary>
internal static partial class FileLimit
{
    private const int RlimitNofile = 7; // RLIMIT_NOFILE, <sys/resource.h>

    /// <summary>
    /// Raises the soft limit to at least <paramref name="wanted"/> where the hard limit allows (and the hard limit
    /// too when the process may: CAP_SYS_RESOURCE, up to fs.nr_open), never lowering either. Returns the soft
    /// limit in force afterwards, or -1 when it cannot be read.
    /// </summary>
    public static long Raise(ulong wanted)
    {
        if (GetRlimit(RlimitNofile, out Rlimit limit) != 0)
            return -1;
        if (limit.Current >= wanted)
            return (long)Math.Min(limit.Current, long.MaxValue);
        if (limit.Maximum < wanted)
        {
            var both = new Rlimit { Current = wanted, Maximum = wanted };
            if (SetRlimit(RlimitNofile, in both) == 0)
                return (long)wanted;
        }
        var soft = new Rlimit { Current = Math.Min(wanted, limit.Maximum), Maximum = limit.Maximum };
        if (soft.Current > limit.Current && SetRlimit(RlimitNofile, in soft) == 0)
            return (long)soft.Current;
        return (long)Math.Min(limit.Current, long.MaxValue);
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRlimit(int resource, out Rlimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRlimit(int resource, in Rlimit limit);

    /// <summary>struct rlimit, &lt;sys/resource.h&gt;.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Rlimit
    {
        public ulong Current;
        public ulong Maximum;
    }
}
