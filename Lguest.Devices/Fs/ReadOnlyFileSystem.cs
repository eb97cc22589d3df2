using Lguest.Devices.Interop;
using Lguest.Memory;

namespace Lguest.Devices;

/// <summary>
/// A read-only share: every call that would change the file system answers EROFS before it reaches the file
/// system it wraps, and the rest pass through. One decorator, so no write path can forget the rule: an open
/// for writing or truncating, SETATTR, CREATE, MKNOD, MKDIR, SYMLINK, LINK, UNLINK, RMDIR, RENAME, WRITE,
/// FALLOCATE, and ACCESS asking for W_OK.
/// </summary>
internal sealed class ReadOnlyFileSystem(IFileSystem inner) : IFileSystem
{
    private const uint WriteAccess = 2; // W_OK

    public int Lookup(ulong parent, FileName name, out FuseEntryOut entry) => inner.Lookup(parent, name, out entry);

    public void Forget(ulong node, ulong lookups) => inner.Forget(node, lookups);

    public int GetAttributes(ulong node, out FuseAttrOut attributes) => inner.GetAttributes(node, out attributes);

    public int SetAttributes(ulong node, in FuseSetattrIn change, out FuseAttrOut attributes)
    {
        attributes = default;
        return Errno.EROFS;
    }

    public int ReadLink(ulong node, Span<byte> target, out int length) => inner.ReadLink(node, target, out length);

    public int Symlink(ulong parent, FileName name, ReadOnlySpan<byte> target, out FuseEntryOut entry) => Refuse(out entry);

    public int MakeNode(ulong parent, FileName name, uint mode, uint rdev, out FuseEntryOut entry) => Refuse(out entry);

    public int MakeDirectory(ulong parent, FileName name, uint mode, out FuseEntryOut entry) => Refuse(out entry);

    public int Unlink(ulong parent, FileName name) => Errno.EROFS;

    public int RemoveDirectory(ulong parent, FileName name) => Errno.EROFS;

    public int Rename(ulong parent, FileName name, ulong newParent, FileName newName, uint flags) => Errno.EROFS;

    public int Link(ulong node, ulong newParent, FileName newName, out FuseEntryOut entry) => Refuse(out entry);

    public int Open(ulong node, uint flags, out ulong handle, out uint openFlags)
    {
        if ((flags & FsLibc.OAccmode) != FsLibc.ORdonly || (flags & (FsLibc.OTrunc | FsLibc.OCreat)) != 0)
        {
            handle = 0;
            openFlags = 0;
            return Errno.EROFS;
        }
        return inner.Open(node, flags, out handle, out openFlags);
    }

    public int Create(ulong parent, FileName name, uint flags, uint mode, out FuseEntryOut entry, out ulong handle, out uint openFlags)
    {
        handle = 0;
        openFlags = 0;
        return Refuse(out entry);
    }

    public int Read(ulong handle, ulong offset, GuestMemory memory, ReadOnlySpan<GuestBuffer> buffers, out int bytesRead) =>
        inner.Read(handle, offset, memory, buffers, out bytesRead);

    public int Write(ulong handle, ulong offset, GuestMemory memory, ReadOnlySpan<GuestBuffer> buffers, out int bytesWritten)
    {
        bytesWritten = 0;
        return Errno.EROFS;
    }

    public int Flush(ulong handle) => inner.Flush(handle);

    public int Release(ulong handle) => inner.Release(handle);

    public int Fsync(ulong handle, bool dataOnly) => inner.Fsync(handle, dataOnly);

    public int OpenDirectory(ulong node, out ulong handle, out uint openFlags) => inner.OpenDirectory(node, out handle, out openFlags);

    public int ReadDirectory(ulong handle, ulong offset, IDirectorySink sink) => inner.ReadDirectory(handle, offset, sink);

    public int ReleaseDirectory(ulong handle) => inner.ReleaseDirectory(handle);

    public int FsyncDirectory(ulong handle, bool dataOnly) => inner.FsyncDirectory(handle, dataOnly);

    public int StatFs(ulong node, out FuseKstatfs statistics) => inner.StatFs(node, out statistics);

    public int Fallocate(ulong handle, uint mode, ulong offset, ulong length) => Errno.EROFS;

    public int Lseek(ulong handle, ulong offset, uint whence, out ulong result) => inner.Lseek(handle, offset, whence, out result);

    public int Access(ulong node, uint mask) => (mask & WriteAccess) != 0 ? Errno.EROFS : inner.Access(node, mask);

    public void Destroy() => inner.Destroy();

    public void CaptureState(Snapshot.SnapshotStateWriter writer) => inner.CaptureState(writer);

    public void RestoreState(Snapshot.SnapshotStateReader reader) => inner.RestoreState(reader);

    public void Dispose() => inner.Dispose();

    private static int Refuse(out FuseEntryOut entry)
    {
        entry = default;
        return Errno.EROFS;
    }
}
