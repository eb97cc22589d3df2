using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Lguest.Interop;

namespace Lguest.Machine;

/// <summary>
/// Confines the launcher once every host resource it needs is open (the seed's <c>--chroot</c> and
/// <c>--username</c>): chroot to a directory and chdir("/") there, then become a user (supplementary groups,
/// then setresgid, then setresuid, so no privilege is left to undo any of it). Run it from
/// <see cref="LauncherOptions.BeforeFirstRun"/>.
/// </summary>
/// <remarks>
/// After a chroot the process sees nothing of the host's file system, while .NET loads assemblies (and a few
/// native pieces) the first time code needs them: before the chroot, every assembly the entry assembly
/// references, directly or not, is loaded, and the lazily opened pieces the launcher's run uses are touched
/// (the local time zone of log timestamps). The devices read the kernel's random bytes with getrandom(2), which needs
/// nothing opened; an application whose own code calls RandomNumberGenerator after the confinement (on Linux that
/// loads OpenSSL) calls <see cref="LoadRandomNumberGenerator"/> first. The supplementary groups
/// come from the host's group database, read before the chroot (<see cref="HostUser"/>), where the seed's
/// initgroups ran after it and read the new root's /etc/group.
/// </remarks>
public static class ProcessConfinement
{
    /// <summary>Chroots to <paramref name="root"/> (if not null), then becomes <paramref name="user"/> (if not null).</summary>
    /// <exception cref="ConfinementException">A step failed; the message names it and the reason.</exception>
    public static void Apply(string? root, HostUser? user)
    {
        if (root is not null)
            ChangeRoot(root);
        if (user is not null)
            BecomeUser(user);
    }

    /// <summary>chroot(<paramref name="root"/>) then chdir("/"), after loading what .NET would otherwise look for in the old root.</summary>
    /// <exception cref="ConfinementException">chroot or chdir failed.</exception>
    public static void ChangeRoot(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        LoadWhatTheRunNeeds();
        AllThreadsCapabilityDrop.NoteThreadsBeforeChroot();
        if (Libc.Chroot(root) != 0)
            throw new ConfinementException($"chroot(\"{root}\") failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        if (Libc.Chdir("/") != 0)
            throw new ConfinementException($"chdir(\"/\") failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>setgroups, setresgid, setresuid to <paramref name="user"/>'s identity, for every thread of the process.</summary>
    /// <exception cref="ConfinementException">A call failed (the process is not privileged enough).</exception>
    public static unsafe void BecomeUser(HostUser user)
    {
        ArgumentNullException.ThrowIfNull(user);
        uint[] groups = [.. user.Groups];
        fixed (uint* g = groups)
        {
            if (Libc.SetGroups((nuint)groups.Length, g) != 0)
                throw Failed("initgroups", user);
        }
        if (Libc.SetResGid(user.Gid, user.Gid, user.Gid) != 0)
            throw Failed("setresgid", user);
        if (Libc.SetResUid(user.Uid, user.Uid, user.Uid) != 0)
            throw Failed("setresuid", user);
    }

    /// <summary>
    /// PR_SET_NO_NEW_PRIVS: no execve from here on can gain privileges (set-user-ID files, file capabilities),
    /// which also lets an unprivileged process install a seccomp filter.
    /// </summary>
    /// <exception cref="ConfinementException">prctl failed.</exception>
    public static void ForbidNewPrivileges()
    {
        if (Libc.Prctl(Libc.PrSetNoNewPrivs, 1, 0, 0, 0) != 0)
            throw new ConfinementException($"prctl(PR_SET_NO_NEW_PRIVS) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>
    /// Gives up every capability for good, on every thread: the bounding set (where the process may change it),
    /// the ambient set, then the effective, permitted and inheritable sets. Call it once the taps and devices are
    /// open: a tap's ioctls, a chroot and a change of user need capabilities, the running guest does not.
    /// </summary>
    /// <exception cref="ConfinementException">capset failed.</exception>
    public static unsafe void DropCapabilities()
    {
        // Without CAP_SETPCAP the bounding set cannot shrink; an unprivileged process has nothing in it to use. The
        // last capability is read once: in the loop's condition it cost a /proc read per capability (41 of them, each
        // an open, read and close on the way to the guest's first instruction, and a restore's).
        int last = LastCapability();
        for (int capability = 0; capability <= last; capability++)
            Libc.Prctl(Libc.PrCapbsetDrop, (nuint)capability, 0, 0, 0);
        Libc.Prctl(Libc.PrCapAmbient, Libc.PrCapAmbientClearAll, 0, 0, 0);
        // capset acts on the calling thread only: every thread runs it (threads made later inherit empty sets).
        AllThreadsCapabilityDrop.Run();
    }

    private static int LastCapability()
    {
        try
        {
            return int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 40; // CAP_CHECKPOINT_RESTORE, the last one Linux 6.x knows
        }
    }

    private static ConfinementException Failed(string call, HostUser user) =>
        new($"{call} failed for {user}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");

    [UnconditionalSuppressMessage("Trimming", "IL2026",
        Justification = "Only loads what the entry assembly references; a reference trimmed away is skipped, and a native build skips the walk.")]
    internal static void LoadWhatTheRunNeeds()
    {
        // A native (AOT) build is one file with everything compiled in: nothing to load.
        Assembly? entry = Assembly.GetEntryAssembly();
        if (entry is not null && JitRuntime.IsRunning)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var pending = new Stack<Assembly>();
            pending.Push(entry);
            seen.Add(entry.FullName ?? "");
            while (pending.TryPop(out Assembly? assembly))
            {
                foreach (AssemblyName reference in assembly.GetReferencedAssemblies())
                {
                    if (!seen.Add(reference.FullName))
                        continue;
                    try
                    {
                        pending.Push(Assembly.Load(reference));
                    }
                    catch (FileNotFoundException)
                    {
                        // Referenced but not deployed (an optional dependency): nothing could load it later either.
                    }
                }
            }
        }
        // Opened on first use and kept: /etc/localtime. Not RandomNumberGenerator: loading OpenSSL for it was the
        // largest cost of the confinement (2.6 ms of the 7.5 from Main to a restored probe's first instruction on this
        // host), and nothing of the launcher's uses it (LoadRandomNumberGenerator is for those that do).
        _ = TimeZoneInfo.Local;
    }

    /// <summary>
    /// Loads what RandomNumberGenerator needs (OpenSSL's libraries and configuration, on Linux), for a process that
    /// uses it after <see cref="ChangeRoot"/> or a seccomp filter, which would refuse the files then.
    /// </summary>
    public static void LoadRandomNumberGenerator()
    {
        Span<byte> warm = stackalloc byte[1];
        RandomNumberGenerator.Fill(warm);
    }
}
