using Lguest.Devices.Interop;
using Lguest.Memory;

namespace Lguest.Devices;

// Open files: OPEN, CREATE, READ, WRITE and the calls on an open handle. READ and WRITE move the bytes
// between the file and the guest's buffers with preadv/pwritev, never through a managed array.
internal sealed partial class PassthroughFileSystem
{
    public int Open(ulong node, uint flags, out ulong handle, out uint openFlags)
    {
        handle = 0;
        openFlags = 0;
        if (FindNode(node, out Inode inode) is int error and not 0)
            return error;
        return OpenInode(inode, flags, out handle);
    }

    public int Create(ulong parent, FileName name, uint flags, uint mode, out FuseEntryOut entry, out ulong handle, out uint openFlags)
    {
        entry = default;
        handle = 0;
        openFlags = 0;
        if (FindDirectory(parent, out Inode directory) is int error and not 0)
            return error;
        if ((flags & FsLibc.OAccmode) == FsLibc.OAccmode)
            return Errno.EINVAL;
        uint permissions = mode & PermissionBits;
        // Always O_EXCL first: opening a name that exists (without the guest's O_EXCL) goes through a lookup
        // and the type check below, so a FIFO or device the host put there is never opened.
        int hostFlags = ((int)flags & PassedOpenFlags) | ForcedOpenFlags | FsLibc.OCreat | FsLibc.OExcl | FsLibc.ONofollow;
        int fd = FsLibc.Openat2(directory.Handle, name.Terminated,
            new OpenHow { Flags = (ulong)(uint)hostFlags, Mode = permissions, Resolve = ContainedResolve });
        if (fd < 0)
        {
            int openError = LastErrno();
            if (openError != Errno.EEXIST || (flags & FsLibc.OExcl) != 0)
                return openError;
            if (LookupIn(directory, name.Terminated, out entry) is int lookupError and not 0)
                return lookupError;
            _inodes.TryGet(entry.NodeId, out Inode existing);
            int result = OpenInode(existing, flags, out handle);
            if (result != 0)
                _inodes.Forget(entry.NodeId, 1);
            return result;
        }
        var file = new FsDescriptor(fd);
        if ((permissions & _umask) != 0 && FsLibc.Fchmod(file, permissions) != 0)
        {
            int chmodError = LastErrno();
            file.Dispose();
            return chmodError;
        }
        // The node's O_PATH handle, of the very file just made (the name could already be another's).
        Span<byte> buffer = stackalloc byte[16];
        int pathFd;
        int pathError;
        using (var proc = new ProcFdName(file, buffer))
        {
            pathFd = FsLibc.Openat2(_procFds, proc.Name, new OpenHow { Flags = FsLibc.OPath | FsLibc.OCloexec });
            pathError = pathFd < 0 ? LastErrno() : 0;
        }
        if (pathFd < 0)
        {
            file.Dispose();
            return pathError;
        }
        if (Register(new FsDescriptor(pathFd), out entry, out Inode inode) is int registerError and not 0)
        {
            file.Dispose();
            return registerError;
        }
        if (AddHandle(file, inode, directory: false, ((int)flags & PassedOpenFlags) | ForcedOpenFlags, out handle) is int handleError and not 0)
        {
            _inodes.Forget(inode.NodeId, 1);
            return handleError;
        }
        return 0;
    }

    public int Read(ulong handle, ulong offset, GuestMemory memory, ReadOnlySpan<GuestBuffer> buffers, out int bytesRead)
    {
        bytesRead = 0;
        if (!_handles.TryGet(handle, directory: false, out OpenHandle open))
            return Errno.EBADF;
        if (offset > long.MaxValue)
            return Errno.EINVAL;
        try
        {
            bytesRead = (int)memory.ReadFromFile(open.Descriptor, (long)offset, buffers);
            return 0;
        }
        catch (IOException e)
        {
            return ErrnoOf(e);
        }
    }

    public int Write(ulong handle, ulong offset, GuestMemory memory, ReadOnlySpan<GuestBuffer> buffers, out int bytesWritten)
    {
        bytesWritten = 0;
        if (!_handles.TryGet(handle, directory: false, out OpenHandle open))
            return Errno.EBADF;
        if (offset > long.MaxValue)
            return Errno.EINVAL;
        try
        {
            bytesWritten = (int)memory.WriteToFile(open.Descriptor, (long)offset, buffers);
            return 0;
        }
        catch (IOException e)
        {
            return ErrnoOf(e);
        }
    }

    // Nothing is buffered here: a completed WRITE is in the host's page cache already.
    public int Flush(ulong handle) => _handles.TryGet(handle, directory: false, out _) ? 0 : Errno.EBADF;

    public int Release(ulong handle) => _handles.Remove(handle, directory: false) ? 0 : Errno.EBADF;

    public int Fsync(ulong handle, bool dataOnly)
    {
        if (!_handles.TryGet(handle, directory: false, out OpenHandle open))
            return Errno.EBADF;
        return Sync(open.Descriptor, dataOnly);
    }

    public int Fallocate(ulong handle, uint mode, ulong offset, ulong length)
    {
        const uint Known = FsLibc.FallocFlKeepSize | FsLibc.FallocFlPunchHole | FsLibc.FallocFlZeroRange;
        if ((mode & ~Known) != 0)
            return Errno.EOPNOTSUPP;
        if (offset > long.MaxValue || length > long.MaxValue)
            return Errno.EINVAL;
        if (!_handles.TryGet(handle, directory: false, out OpenHandle open))
            return Errno.EBADF;
        return FsLibc.Fallocate(open.Descriptor, (int)mode, (long)offset, (long)length) == 0 ? 0 : LastErrno();
    }

    public int Lseek(ulong handle, ulong offset, uint whence, out ulong result)
    {
        result = 0;
        if (whence is not (FsLibc.SeekData or FsLibc.SeekHole) || offset > long.MaxValue)
            return Errno.EINVAL;
        if (!_handles.TryGet(handle, directory: false, out OpenHandle open))
            return Errno.EBADF;
        long position = FsLibc.Lseek(open.Descriptor, (long)offset, (int)whence);
        if (position < 0)
            return LastErrno();
        result = (ulong)position;
        return 0;
    }

    // Only regular files are opened: a directory is OPENDIR's, a symbolic link is never followed by the
    // host, and a FIFO, socket or device node is the guest kernel's to emulate (it never sends OPEN for one).
    private int OpenInode(Inode inode, uint flags, out ulong handle)
    {
        handle = 0;
        if (!inode.IsRegularFile)
            return inode.IsDirectory ? Errno.EISDIR : inode.IsSymlink ? Errno.ELOOP : Errno.ENXIO;
        if ((flags & FsLibc.OAccmode) == FsLibc.OAccmode)
            return Errno.EINVAL;
        int hostFlags = ((int)flags & PassedOpenFlags) | ForcedOpenFlags;
        if (Reopen(inode, hostFlags, out FsDescriptor file) is int error and not 0)
            return error;
        return AddHandle(file, inode, directory: false, hostFlags, out handle);
    }

    private static int Sync(FsDescriptor descriptor, bool dataOnly) =>
        (dataOnly ? FsLibc.Fdatasync(descriptor) : FsLibc.Fsync(descriptor)) == 0 ? 0 : LastErrno();
}
