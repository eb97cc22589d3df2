using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
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
/// (the random source behind virtio-rng, the local time zone of log timestamps). The supplementary groups
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

    private static ConfinementException Failed(string call, HostUser user) =>
        new($"{call} failed for {user}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");

    [UnconditionalSuppressMessage("Trimming", "IL2026",
        Justification = "Only loads what the entry assembly references; a reference trimmed away is skipped, and a native build skips the walk.")]
    private static void LoadWhatTheRunNeeds()
    {
        // A native (AOT) build is one file with everything compiled in: nothing to load.
        Assembly? entry = Assembly.GetEntryAssembly();
        if (entry is not null && RuntimeFeature.IsDynamicCodeSupported)
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
        // Opened on first use and kept: /dev/urandom (or getrandom) behind RandomNumberGenerator, /etc/localtime.
        Span<byte> warm = stackalloc byte[1];
        RandomNumberGenerator.Fill(warm);
        _ = TimeZoneInfo.Local;
    }
}
