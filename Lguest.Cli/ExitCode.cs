namespace Lguest.Cli;

/// <summary>
/// The lguest command's exit codes. STYLE §9 gives usage errors 2 and bad drivers 5; issue 8 makes the command
/// line compatible with the lguest launcher, which ended every error it reported with errx(1): so a malformed
/// command line, a guest that died (its reason printed) and a bad driver under --strict exit 1 here, and 2 and
/// 5 are not used. The finer codes for inputs, the host and triple faults stay.
/// </summary>
internal enum ExitCode
{
    /// <summary>The guest powered off, or rebooted under --no-reboot, or the user stopped it with Ctrl-A x.</summary>
    Ok = 0,

    /// <summary>
    /// The seed's errx(1): the command line is malformed (usage on stderr), the guest died (the reason on
    /// stderr), a driver broke the rules under --strict ("&lt;device&gt;: bad driver: &lt;what&gt;"), the launcher could
    /// not confine itself, or an unexpected host failure (with --verbose, the stack trace).
    /// </summary>
    Failure = 1,

    /// <summary>An input is bad: the kernel, the initrd, a disk image, the memory size, the user, the chroot directory.</summary>
    BadInput = 3,

    /// <summary>The host cannot run guests: no /dev/kvm, no permission, backend unavailable.</summary>
    HostUnavailable = 4,

    /// <summary>The guest triple-faulted (KVM; on /dev/lguest the Host reports it as a death, exit 1).</summary>
    GuestFailed = 6,
}
