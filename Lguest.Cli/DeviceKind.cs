namespace Lguest.Cli;

/// <summary>The devices the command line adds, each option one device.</summary>
internal enum DeviceKind
{
    /// <summary><c>--block=FILE</c> (or <c>ro:FILE</c>): a virtio block device on a disk image.</summary>
    Block,

    /// <summary><c>--rng</c>: a virtio entropy device.</summary>
    Rng,

    /// <summary><c>--tunnet=SPEC</c>: a virtio network card on a new tap.</summary>
    Tunnet,

    /// <summary><c>--share=DIR:TAG[:ro]</c>: a virtio-fs device sharing a host folder.</summary>
    Share,

    /// <summary><c>--vsock=PATH[:CID]</c>: a virtio socket device on Firecracker's hybrid vsock at PATH.</summary>
    Vsock,

    /// <summary>A virtio network card on an existing tap, named by the API's or config file's host_dev_name.</summary>
    Tap,
}
