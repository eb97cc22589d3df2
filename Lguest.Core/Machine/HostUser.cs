using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Lguest.Interop;

namespace Lguest.Machine;

/// <summary>
/// A user of the host, as the passwd and group databases describe it: who the launcher becomes when it drops
/// privileges (the seed's <c>--username</c>). Resolved before any chroot, from the host's own databases.
/// </summary>
/// <param name="Name">The login name.</param>
/// <param name="Uid">The user ID.</param>
/// <param name="Gid">The primary group ID (pw_gid).</param>
/// <param name="Groups">Every group the user is in, the primary one included (getgrouplist, what initgroups sets).</param>
public sealed record HostUser(string Name, uint Uid, uint Gid, IReadOnlyList<uint> Groups)
{
    /// <summary>The most supplementary groups read: NGROUPS_MAX on Linux.</summary>
    private const int MaxGroups = 65536;

    /// <summary>The largest buffer offered to getpwnam_r for the entry's strings.</summary>
    private const int MaxEntryBuffer = 1 << 20;

    /// <summary>Looks <paramref name="name"/> up (getpwnam, getgrouplist); false with one line saying why when it cannot.</summary>
    public static unsafe bool TryResolve(string name, [NotNullWhen(true)] out HostUser? user, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(name);
        user = null;
        if (name.Length == 0 || name.Contains('\0', StringComparison.Ordinal))
        {
            error = $"'{name}' is not a user name";
            return false;
        }
        Libc.Passwd entry;
        Libc.Passwd* found = null;
        for (int size = 1024; ; size *= 2)
        {
            byte[] buffer = new byte[size];
            int rc;
            fixed (byte* b = buffer)
                rc = Libc.GetPwNamR(name, &entry, b, (nuint)buffer.Length, &found);
            if (rc == Libc.ERANGE && size < MaxEntryBuffer)
                continue;
            if (rc != 0)
            {
                error = $"getpwnam failed for '{name}': {Marshal.GetPInvokeErrorMessage(rc)}";
                return false;
            }
            break;
        }
        if (found is null)
        {
            error = $"getpwnam failed, incorrect username? (no user '{name}' in the host's passwd database)";
            return false;
        }

        uint uid = entry.Uid, gid = entry.Gid;
        int count = 32;
        while (true)
        {
            uint[] groups = new uint[count];
            int wanted = count;
            int rc;
            fixed (uint* g = groups)
                rc = Libc.GetGroupList(name, gid, g, &wanted);
            if (rc >= 0)
            {
                user = new HostUser(name, uid, gid, groups[..wanted]);
                error = null;
                return true;
            }
            // -1: too small; glibc put the number needed in wanted.
            if (count >= MaxGroups)
            {
                error = $"'{name}' is in more than {MaxGroups} groups";
                return false;
            }
            count = Math.Clamp(wanted, count * 2, MaxGroups);
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} (uid {Uid}, gid {Gid})";
}
