using System.Runtime.InteropServices;

namespace Lguest.Cli.Confinement;

/// <summary>The few libc calls --jail makes: unshare, mount, kill (Lguest.Core's interop is its own).</summary>
internal static partial class JailSystemCalls
{
    public const int CloneNewNs = 0x00020000;   // CLONE_NEWNS, <linux/sched.h>
    public const int CloneNewIpc = 0x08000000;  // CLONE_NEWIPC
    public const int CloneNewPid = 0x20000000;  // CLONE_NEWPID

    public const ulong MsNoSuid = 2;            // MS_NOSUID, <linux/mount.h>
    public const ulong MsNoDev = 4;             // MS_NODEV
    public const ulong MsNoExec = 8;            // MS_NOEXEC
    public const ulong MsRec = 0x4000;          // MS_REC
    public const ulong MsPrivate = 0x40000;     // MS_PRIVATE

    [LibraryImport("libc", EntryPoint = "unshare", SetLastError = true)]
    public static partial int Unshare(int flags);

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string? source, string target, string? fileSystemType, ulong flags, nint data);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int processId, int signal);

    [LibraryImport("libc", EntryPoint = "getpid")]
    public static partial int GetPid();

    /// <summary>The last call's errno as text.</summary>
    public static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
}
