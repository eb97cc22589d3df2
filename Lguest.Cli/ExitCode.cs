namespace Lguest.Cli;

/// <summary>The lguest command's exit codes (STYLE §9).</summary>
internal enum ExitCode
{
    /// <summary>The guest powered off, or rebooted under --no-reboot, or the user stopped it.</summary>
    Ok = 0,

    /// <summary>A bug or an unexpected host failure; the stack trace is printed.</summary>
    Failure = 1,

    /// <summary>The command line is wrong.</summary>
    Usage = 2,

    /// <summary>An input is bad: the kernel, the initrd, the memory size.</summary>
    BadInput = 3,

    /// <summary>The host cannot run guests: no /dev/kvm, no permission, backend unavailable.</summary>
    HostUnavailable = 4,

    /// <summary>A guest driver broke the virtio rules and the device could not continue.</summary>
    BadDriver = 5,

    /// <summary>The guest died: a triple fault, an emulation failure, a failed entry.</summary>
    GuestFailed = 6,
}
