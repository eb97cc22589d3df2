using Lguest.Devices.Interop;

namespace Lguest.Devices;

// Names: looking them up, making and removing them. Each resolves or changes exactly one entry of a
// directory the guest holds, relative to that directory's O_PATH handle.
internal sealed partial class PassthroughFileSystem
{
    public int Lookup(ulong parent, FileName name, out FuseEntryOut entry)
    {
        entry = default;
        if (FindDirectory(parent, out Inode directory) is int error and not 0)
            return error;
        return LookupIn(directory, name.Terminated, out entry);
    }

    public void Forget(ulong node, ulong lookups) => _inodes.Forget(node, lookups);

    public int ReadLink(ulong node, Span<byte> target, out int length)
    {
        length = 0;
        if (FindNode(node, out Inode inode) is int error and not 0)
            return error;
        if (!inode.IsSymlink)
            return Errno.EINVAL;
        nint n = FsLibc.Readlinkat(inode.Handle, "\0"u8, target, (nuint)target.Length);
        if (n < 0)
            return LastErrno();
        // A target that fills the buffer may have been cut: say so rather than hand the guest half of it.
        if (n >= target.Length)
            return Errno.ENAMETOOLONG;
        length = (int)n;
        return 0;
    }

    public int Symlink(ulong parent, FileName name, ReadOnlySpan<byte> target, out FuseEntryOut entry)
    {
        entry = default;
        if (FindDirectory(parent, out Inode directory) is int error and not 0)
            return error;
        // The target is stored as the guest wrote it and never followed by the host: the guest's kernel
        // resolves it, in the guest.
        if (target.Length < 2 || target.Length > MaxLinkTarget || target[^1] != 0 || target[..^1].Contains((byte)0))
            return Errno.EINVAL;
        if (FsLibc.Symlinkat(target, directory.Handle, name.Terminated) != 0)
            return LastErrno();
        return LookupIn(directory, name.Terminated, out entry);
    }

    public int MakeNode(ulong parent, FileName name, uint mode, uint rdev, out FuseEntryOut entry)
    {
        entry = default;
        if (FindDirectory(parent, out Inode directory) is int error and not 0)
            return error;
        // Regular files and FIFOs only: a device node the guest made would open a host device.
        uint type = mode & FsLibc.SIfmt;
        if (type == 0)
            type = FsLibc.SIfreg;
        if (type is not (FsLibc.SIfreg or FsLibc.SIfifo))
            return Errno.EPERM;
        uint permissions = mode & PermissionBits;
        if (FsLibc.Mknodat(directory.Handle, name.Terminated, type | permissions, 0) != 0)
            return LastErrno();
        int result = LookupIn(directory, name.Terminated, out entry);
        return result == 0 ? RestorePermissions(ref entry, permissions) : result;
    }

    public int MakeDirectory(ulong parent, FileName name, uint mode, out FuseEntryOut entry)
    {
        entry = default;
        if (FindDirectory(parent, out Inode directory) is int error and not 0)
            return error;
        uint permissions = mode & PermissionBits;
        if (FsLibc.Mkdirat(directory.Handle, name.Terminated, permissions) != 0)
            return LastErrno();
        int result = LookupIn(directory, name.Terminated, out entry);
        return result == 0 ? RestorePermissions(ref entry, permissions) : result;
    }

    public int Unlink(ulong parent, FileName name)
    {
        if (FindDirectory(parent, out Inode directory) is int error and not 0)
            return error;
        return FsLibc.Unlinkat(directory.Handle, name.Terminated, 0) == 0 ? 0 : LastErrno();
    }

    public int RemoveDirectory(ulong parent, FileName name)
    {
        if (FindDirectory(parent, out Inode directory) is int error and not 0)
            return error;
        return FsLibc.Unlinkat(directory.Handle, name.Terminated, FsLibc.AtRemovedir) == 0 ? 0 : LastErrno();
    }

    public int Rename(ulong parent, FileName name, ulong newParent, FileName newName, uint flags)
    {
        // RENAME_WHITEOUT (an overlay's business) and unknown bits are refused.
        if ((flags & ~(FsLibc.RenameNoreplace | FsLibc.RenameExchange)) != 0)
            return Errno.EINVAL;
        if (FindDirectory(parent, out Inode from) is int error and not 0)
            return error;
        if (FindDirectory(newParent, out Inode to) is int newError and not 0)
            return newError;
        return FsLibc.Renameat2(from.Handle, name.Terminated, to.Handle, newName.Terminated, flags) == 0 ? 0 : LastErrno();
    }

    public int Link(ulong node, ulong newParent, FileName newName, out FuseEntryOut entry)
    {
        entry = default;
        if (FindNode(node, out Inode inode) is int error and not 0)
            return error;
        if (FindDirectory(newParent, out Inode directory) is int newError and not 0)
            return newError;
        if (inode.IsDirectory)
            return Errno.EPERM;
        int result;
        if (inode.IsSymlink)
        {
            // A link to the symbolic link itself: through /proc it would be followed, on the host. AT_EMPTY_PATH
            // needs CAP_DAC_READ_SEARCH; without it the kernel says ENOENT and the guest gets that.
            result = FsLibc.Linkat(inode.Handle, "\0"u8, directory.Handle, newName.Terminated, FsLibc.AtEmptyPath);
        }
        else
        {
            Span<byte> buffer = stackalloc byte[16];
            using var proc = new ProcFdName(inode.Handle, buffer);
            result = FsLibc.Linkat(_procFds, proc.Name, directory.Handle, newName.Terminated, FsLibc.AtSymlinkFollow);
        }
        if (result != 0)
            return LastErrno();
        return LookupIn(directory, newName.Terminated, out entry);
    }
}
