using Lguest.Devices.Interop;

namespace Lguest.Devices;

// Attributes: GETATTR, SETATTR, STATFS, ACCESS, all on the node's own O_PATH handle.
internal sealed partial class PassthroughFileSystem
{
    public int GetAttributes(ulong node, out FuseAttrOut attributes)
    {
        attributes = default;
        if (FindNode(node, out Inode inode) is int error and not 0)
            return error;
        if (Stat(inode.Handle, out Statx status) is int statError and not 0)
            return statError;
        attributes = AttrOut(status);
        return 0;
    }

    public int SetAttributes(ulong node, in FuseSetattrIn change, out FuseAttrOut attributes)
    {
        attributes = default;
        if (FindNode(node, out Inode inode) is int error and not 0)
            return error;
        uint valid = change.Valid;
        if ((valid & FuseConstants.FattrMode) != 0)
        {
            // Linux cannot change a symbolic link's mode.
            if (inode.IsSymlink)
                return Errno.EOPNOTSUPP;
            if (Chmod(inode, change.Mode & PermissionBits) is int chmodError and not 0)
                return chmodError;
        }
        if ((valid & (FuseConstants.FattrUid | FuseConstants.FattrGid)) != 0)
        {
            uint uid = (valid & FuseConstants.FattrUid) != 0 ? change.Uid : uint.MaxValue; // (uid_t)-1: unchanged
            uint gid = (valid & FuseConstants.FattrGid) != 0 ? change.Gid : uint.MaxValue;
            if (FsLibc.Fchownat(inode.Handle, "\0"u8, uid, gid, FsLibc.AtEmptyPath | FsLibc.AtSymlinkNofollow) != 0)
                return LastErrno();
        }
        if ((valid & FuseConstants.FattrSize) != 0 && Truncate(inode, valid, change) is int truncateError and not 0)
            return truncateError;
        const uint Times = FuseConstants.FattrAtime | FuseConstants.FattrMtime | FuseConstants.FattrAtimeNow | FuseConstants.FattrMtimeNow;
        if ((valid & Times) != 0)
        {
            Span<FsLibc.Timespec> times = stackalloc FsLibc.Timespec[2];
            times[0] = Time(valid, FuseConstants.FattrAtime, FuseConstants.FattrAtimeNow, change.Atime, change.AtimeNsec);
            times[1] = Time(valid, FuseConstants.FattrMtime, FuseConstants.FattrMtimeNow, change.Mtime, change.MtimeNsec);
            // The kernel checks the nanoseconds (EINVAL past 999,999,999).
            if (FsLibc.Utimensat(inode.Handle, "\0"u8, times, FsLibc.AtEmptyPath | FsLibc.AtSymlinkNofollow) != 0)
                return LastErrno();
        }
        if (Stat(inode.Handle, out Statx status) is int statError and not 0)
            return statError;
        attributes = AttrOut(status);
        return 0;
    }

    public int StatFs(ulong node, out FuseKstatfs statistics)
    {
        statistics = default;
        if (FindNode(node, out Inode inode) is int error and not 0)
            return error;
        if (FsLibc.Fstatfs(inode.Handle, out StatFs s) != 0)
            return LastErrno();
        statistics = new FuseKstatfs
        {
            Blocks = s.Blocks,
            FreeBlocks = s.FreeBlocks,
            AvailableBlocks = s.AvailableBlocks,
            Files = s.Files,
            FreeFiles = s.FreeFiles,
            BlockSize = (uint)s.BlockSize,
            NameLength = (uint)s.NameLength,
            FragmentSize = (uint)s.FragmentSize,
        };
        return 0;
    }

    public int Access(ulong node, uint mask)
    {
        if (mask > 7) // R_OK | W_OK | X_OK
            return Errno.EINVAL;
        if (FindNode(node, out Inode inode) is int error and not 0)
            return error;
        return FsLibc.Faccessat(inode.Handle, "\0"u8, (int)mask, FsLibc.AtEmptyPath) == 0 ? 0 : LastErrno();
    }

    // Through the guest's open handle when it names one (its file may no longer be writable by path),
    // else through a write-only descriptor of the file opened for the purpose.
    private int Truncate(Inode inode, uint valid, in FuseSetattrIn change)
    {
        if (change.Size > long.MaxValue)
            return Errno.EINVAL;
        if ((valid & FuseConstants.FattrFh) != 0 && _handles.TryGet(change.Handle, directory: false, out OpenHandle open))
            return FsLibc.Ftruncate(open.Descriptor, (long)change.Size) == 0 ? 0 : LastErrno();
        if (!inode.IsRegularFile)
            return inode.IsDirectory ? Errno.EISDIR : Errno.EINVAL;
        if (Reopen(inode, FsLibc.OWronly | ForcedOpenFlags, out FsDescriptor file) is int error and not 0)
            return error;
        using (file)
            return FsLibc.Ftruncate(file, (long)change.Size) == 0 ? 0 : LastErrno();
    }

    private static FsLibc.Timespec Time(uint valid, uint set, uint now, ulong seconds, uint nanoseconds)
    {
        if ((valid & now) != 0)
            return new FsLibc.Timespec { Nanoseconds = FsLibc.UtimeNow };
        if ((valid & set) != 0)
            return new FsLibc.Timespec { Seconds = (long)seconds, Nanoseconds = nanoseconds };
        return new FsLibc.Timespec { Nanoseconds = FsLibc.UtimeOmit };
    }
}
