using Lguest.Memory;

namespace Lguest.Devices;

/// <summary>
/// What the FUSE server asks of the file system behind a share, one method per FUSE operation, with the
/// request already parsed and checked for form (sizes, names). Nodes are the FUSE node ids the file system
/// handed out (<see cref="FuseConstants.RootId"/> is the shared folder), handles the ids OPEN, OPENDIR and
/// CREATE returned; both come from the guest and may be anything. Every method returns 0 or the errno the
/// guest gets, and never throws for anything the guest sent.
/// </summary>
/// <remarks>
/// Called from every queue's worker at once (FORGET comes on the high-priority queue while requests are
/// served): implementations are thread-safe.
/// </remarks>
internal interface IFileSystem : IDisposable
{
    /// <summary>LOOKUP: the entry <paramref name="name"/> of directory <paramref name="parent"/>; each success counts one lookup of the node.</summary>
    int Lookup(ulong parent, FileName name, out FuseEntryOut entry);

    /// <summary>FORGET: the guest drops <paramref name="lookups"/> lookups of <paramref name="node"/>; at zero the node goes.</summary>
    void Forget(ulong node, ulong lookups);

    /// <summary>GETATTR.</summary>
    int GetAttributes(ulong node, out FuseAttrOut attributes);

    /// <summary>SETATTR: the fields <see cref="FuseSetattrIn.Valid"/> names, then the attributes as they are now.</summary>
    int SetAttributes(ulong node, in FuseSetattrIn change, out FuseAttrOut attributes);

    /// <summary>READLINK: the link's target into <paramref name="target"/>; <paramref name="length"/> bytes of it.</summary>
    int ReadLink(ulong node, Span<byte> target, out int length);

    /// <summary>SYMLINK: a symbolic link <paramref name="name"/> holding <paramref name="target"/> (NUL-terminated), never followed by the host.</summary>
    int Symlink(ulong parent, FileName name, ReadOnlySpan<byte> target, out FuseEntryOut entry);

    /// <summary>MKNOD: a regular file or a FIFO (other types get EPERM).</summary>
    int MakeNode(ulong parent, FileName name, uint mode, uint rdev, out FuseEntryOut entry);

    /// <summary>MKDIR.</summary>
    int MakeDirectory(ulong parent, FileName name, uint mode, out FuseEntryOut entry);

    /// <summary>UNLINK.</summary>
    int Unlink(ulong parent, FileName name);

    /// <summary>RMDIR.</summary>
    int RemoveDirectory(ulong parent, FileName name);

    /// <summary>RENAME and RENAME2 (<paramref name="flags"/>: RENAME_NOREPLACE, RENAME_EXCHANGE).</summary>
    int Rename(ulong parent, FileName name, ulong newParent, FileName newName, uint flags);

    /// <summary>LINK: a new name for <paramref name="node"/>.</summary>
    int Link(ulong node, ulong newParent, FileName newName, out FuseEntryOut entry);

    /// <summary>OPEN of a regular file with the guest's open flags.</summary>
    int Open(ulong node, uint flags, out ulong handle, out uint openFlags);

    /// <summary>CREATE: makes (or with no O_EXCL, opens) a regular file and opens it.</summary>
    int Create(ulong parent, FileName name, uint flags, uint mode, out FuseEntryOut entry, out ulong handle, out uint openFlags);

    /// <summary>READ: up to the buffers' length from <paramref name="offset"/>, straight into guest memory.</summary>
    int Read(ulong handle, ulong offset, GuestMemory memory, ReadOnlySpan<GuestBuffer> buffers, out int bytesRead);

    /// <summary>WRITE: the buffers at <paramref name="offset"/>, straight from guest memory.</summary>
    int Write(ulong handle, ulong offset, GuestMemory memory, ReadOnlySpan<GuestBuffer> buffers, out int bytesWritten);

    /// <summary>FLUSH (a close of one of the guest's descriptors).</summary>
    int Flush(ulong handle);

    /// <summary>RELEASE: the handle goes.</summary>
    int Release(ulong handle);

    /// <summary>FSYNC.</summary>
    int Fsync(ulong handle, bool dataOnly);

    /// <summary>OPENDIR.</summary>
    int OpenDirectory(ulong node, out ulong handle, out uint openFlags);

    /// <summary>READDIR and READDIRPLUS: entries from <paramref name="offset"/> into <paramref name="sink"/> until it is full.</summary>
    int ReadDirectory(ulong handle, ulong offset, IDirectorySink sink);

    /// <summary>RELEASEDIR.</summary>
    int ReleaseDirectory(ulong handle);

    /// <summary>FSYNCDIR.</summary>
    int FsyncDirectory(ulong handle, bool dataOnly);

    /// <summary>STATFS of the file system holding <paramref name="node"/>.</summary>
    int StatFs(ulong node, out FuseKstatfs statistics);

    /// <summary>FALLOCATE.</summary>
    int Fallocate(ulong handle, uint mode, ulong offset, ulong length);

    /// <summary>LSEEK with SEEK_DATA or SEEK_HOLE.</summary>
    int Lseek(ulong handle, ulong offset, uint whence, out ulong result);

    /// <summary>ACCESS: whether the host grants <paramref name="mask"/> (R_OK, W_OK, X_OK, or F_OK).</summary>
    int Access(ulong node, uint mask);

    /// <summary>DESTROY (and a device reset): every node but the root and every handle go.</summary>
    void Destroy();

    /// <summary>For a snapshot: the nodes and open files the guest holds, as the file system can find them again.</summary>
    void CaptureState(Snapshot.SnapshotStateWriter writer);

    /// <summary>Takes back what <see cref="CaptureState"/> wrote, into a file system that holds only its root.</summary>
    /// <exception cref="Snapshot.SnapshotException">The state is malformed or exceeds this file system's caps.</exception>
    void RestoreState(Snapshot.SnapshotStateReader reader);
}
