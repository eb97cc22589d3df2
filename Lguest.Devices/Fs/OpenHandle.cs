using Lguest.Devices.Interop;

namespace Lguest.Devices;

/// <summary>One file or directory the guest opened: the host descriptor and the node it was opened from.</summary>
internal sealed class OpenHandle(FsDescriptor descriptor, Inode inode, bool isDirectory, int flags)
{
    /// <summary>The open host descriptor (read and written with positional calls only, so queues may share it).</summary>
    public FsDescriptor Descriptor { get; } = descriptor;

    /// <summary>The node opened.</summary>
    public Inode Inode { get; } = inode;

    /// <summary>OPENDIR's handle (READDIR, RELEASEDIR, FSYNCDIR) rather than OPEN's or CREATE's.</summary>
    public bool IsDirectory { get; } = isDirectory;

    /// <summary>The host open flags the descriptor was opened with (O_CREAT and O_EXCL left out): a restore opens it again so.</summary>
    public int Flags { get; } = flags;

    /// <summary>Held while a READDIR seeks and reads the directory: its position is shared state.</summary>
    public Lock DirectoryLock { get; } = new();
}
