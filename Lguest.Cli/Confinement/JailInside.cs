namespace Lguest.Cli.Confinement;

/// <summary>
/// The inner half of <c>--jail</c>, run first thing by the jailed lguest (PID 1 of its namespace): its mounts
/// stop propagating to and from the host, and /proc shows only the jail's own processes.
/// </summary>
internal static class JailInside
{
    /// <summary>Whether this process is the one <see cref="JailParent"/> started.</summary>
    public static bool IsJailed =>
        Environment.GetEnvironmentVariable(JailParent.InsideMarker) == "1" && JailSystemCalls.GetPid() == 1;

    /// <summary>Makes every mount private and mounts a fresh /proc; false after one line on <paramref name="error"/>.</summary>
    public static bool Prepare(TextWriter error)
    {
        Environment.SetEnvironmentVariable(JailParent.InsideMarker, null);
        // Shared mounts (systemd makes / shared) would otherwise carry this namespace's mounts back to the host.
        if (JailSystemCalls.Mount(null, "/", null, JailSystemCalls.MsRec | JailSystemCalls.MsPrivate, 0) != 0)
            return Failed(error, "making the mounts private", JailSystemCalls.LastError());
        // The host's /proc would still list, and name, every host process; a new one belongs to this PID namespace.
        if (JailSystemCalls.Mount("proc", "/proc", "proc", JailSystemCalls.MsNoSuid | JailSystemCalls.MsNoDev | JailSystemCalls.MsNoExec, 0) != 0)
            return Failed(error, "mounting /proc for the new PID namespace", JailSystemCalls.LastError());
        return true;
    }

    private static bool Failed(TextWriter error, string step, string reason)
    {
        error.WriteLine($"lguest: --jail: {step} failed: {reason}");
        return false;
    }
}
