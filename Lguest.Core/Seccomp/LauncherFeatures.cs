namespace Lguest.Seccomp;

/// <summary>Parts of a launcher that need system calls the rest never makes, so a policy grants them only when used.</summary>
[Flags]
public enum LauncherFeatures
{
    /// <summary>The vCPUs, the platform devices and block, net, console, rng and vsock on open files.</summary>
    None = 0,

    /// <summary>A shared folder (virtio-fs): opening, creating, renaming and deleting files under its root.</summary>
    SharedFolders = 1,

    /// <summary>Vsock connections from the guest to Unix sockets on the host (socket and connect, AF_UNIX only).</summary>
    UnixSocketConnections = 2,

    /// <summary>A control socket (the HTTP API): accepting connections on a listening socket.</summary>
    ControlSocket = 4,

    /// <summary>Snapshots written while running: creating the snapshot's files.</summary>
    Snapshots = 8,
}
