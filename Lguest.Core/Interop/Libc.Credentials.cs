using System.Runtime.InteropServices;

namespace Lguest.Interop;

/// <summary>
/// What a launcher needs to confine itself after opening its host resources, as the lguest launcher did:
/// chroot and chdir, and the user's identity from the passwd and group databases (setgroups, setresgid,
/// setresuid). glibc applies setgroups, setresgid and setresuid to every thread of the process.
/// </summary>
internal static unsafe partial class Libc
{
    public const int ERANGE = 34;

    /// <summary>glibc's struct passwd on x86_64 (&lt;pwd.h&gt;): 48 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Passwd
    {
        public nint Name;
        public nint Password;
        public uint Uid;
        public uint Gid;
        public nint Gecos;
        public nint Directory;
        public nint Shell;
    }

    /// <summary>getpwnam_r: 0 with <paramref name="result"/> null when there is no such user; an errno value on failure.</summary>
    [LibraryImport("libc", EntryPoint = "getpwnam_r", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int GetPwNamR(string name, Passwd* entry, byte* buffer, nuint length, Passwd** result);

    /// <summary>getgrouplist: the groups <paramref name="user"/> belongs to, <paramref name="group"/> included; -1 when <paramref name="count"/> is too small (it is then updated).</summary>
    [LibraryImport("libc", EntryPoint = "getgrouplist", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int GetGroupList(string user, uint group, uint* groups, int* count);

    [LibraryImport("libc", EntryPoint = "setgroups", SetLastError = true)]
    public static partial int SetGroups(nuint count, uint* groups);

    [LibraryImport("libc", EntryPoint = "setresgid", SetLastError = true)]
    public static partial int SetResGid(uint real, uint effective, uint saved);

    [LibraryImport("libc", EntryPoint = "setresuid", SetLastError = true)]
    public static partial int SetResUid(uint real, uint effective, uint saved);

    [LibraryImport("libc", EntryPoint = "chroot", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Chroot(string path);

    [LibraryImport("libc", EntryPoint = "chdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Chdir(string path);
}
