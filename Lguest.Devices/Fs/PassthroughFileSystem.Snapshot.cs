using System.Runtime.InteropServices;
using System.Text;
using Lguest.Devices.Interop;
using Lguest.Snapshot;

namespace Lguest.Devices;

// Snapshots of the share: the guest's FUSE client keeps node ids and file handles in its memory (dentries, open files),
// which a snapshot keeps; the host descriptors behind them belong to this process and cannot. So a snapshot records
// each node by its path beneath the share's root (and each open file by its node and flags), and a restore, in another
// process, finds them again by those paths with the same contained resolution as a lookup. A node whose file is gone
// (unlinked while the guest held it, or moved out of the share) is left out: the guest's next use of it gets EBADF,
// as for a node it forgot.
internal sealed partial class PassthroughFileSystem
{
    // PATH_MAX: the longest path beneath the root a node is recorded by.
    private const int MaxRecordedPath = 4096;

    public void CaptureState(SnapshotStateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        string? root = HostPath(_inodes.Root.Handle);
        if (root is null)
            throw new SnapshotException(SnapshotRefusal.NotSupported, $"{_name}: the share's folder is gone; its nodes cannot be found again");
        var nodes = new List<(Inode Inode, byte[] Path)>();
        var kept = new HashSet<ulong> { FuseConstants.RootId };
        foreach (Inode inode in _inodes.AllButRoot())
        {
            if (PathBeneath(root, inode, out byte[] path) is string why)
            {
                _logger.NodeLeftOut(_name, inode.NodeId, why);
                continue;
            }
            nodes.Add((inode, path));
            kept.Add(inode.NodeId);
        }
        KeyValuePair<ulong, OpenHandle>[] handles = [.. _handles.All().Where(h => kept.Contains(h.Value.Inode.NodeId))];

        writer.WriteUInt64(_inodes.NextNode);
        writer.WriteUInt64(_handles.Next);
        writer.WriteUInt32((uint)nodes.Count);
        foreach ((Inode inode, byte[] path) in nodes)
        {
            writer.WriteUInt64(inode.NodeId);
            writer.WriteUInt64(inode.Lookups);
            writer.WriteUInt32(inode.Type);
            writer.WriteBytes(path);
        }
        writer.WriteUInt32((uint)handles.Length);
        foreach ((ulong id, OpenHandle open) in handles)
        {
            writer.WriteUInt64(id);
            writer.WriteUInt64(open.Inode.NodeId);
            writer.WriteBoolean(open.IsDirectory);
            writer.WriteUInt32((uint)open.Flags);
        }
    }

    public void RestoreState(SnapshotStateReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ulong nextNode = reader.ReadUInt64();
        ulong nextHandle = reader.ReadUInt64();
        int nodeCount = reader.ReadCount(_inodes.Capacity - 1, "nodes (more than this share's cap)");
        var nodes = new (ulong Id, ulong Lookups, uint Type, byte[] Path)[nodeCount];
        var ids = new HashSet<ulong>();
        for (int i = 0; i < nodeCount; i++)
        {
            ulong id = reader.ReadUInt64();
            ulong lookups = reader.ReadUInt64();
            uint type = reader.ReadUInt32();
            byte[] path = reader.ReadBytes(MaxRecordedPath).ToArray();
            if (id <= FuseConstants.RootId || id >= nextNode || !ids.Add(id))
                throw reader.Corrupt($"node id {id} is the root's, repeated, or not below the next id {nextNode}");
            if (lookups == 0 || (type & ~FsLibc.SIfmt) != 0 || path.Length == 0 || path.Contains((byte)0))
                throw reader.Corrupt($"node {id} has {lookups} lookups, type 0x{type:x} or an empty path or one holding NUL");
            nodes[i] = (id, lookups, type, path);
        }
        int handleCount = reader.ReadCount(_handles.Capacity, "open files (more than this share's cap)");
        var handles = new (ulong Id, ulong Node, bool Directory, int Flags)[handleCount];
        var handleIds = new HashSet<ulong>();
        for (int i = 0; i < handleCount; i++)
        {
            ulong id = reader.ReadUInt64();
            ulong node = reader.ReadUInt64();
            bool directory = reader.ReadBoolean();
            uint flags = reader.ReadUInt32();
            if (id == 0 || id >= nextHandle || !handleIds.Add(id) || !ids.Contains(node))
                throw reader.Corrupt($"open file {id} is 0, repeated, not below the next id {nextHandle}, or of a node not held");
            if ((flags & ~(uint)(PassedOpenFlags | ForcedOpenFlags | FsLibc.ODirectory)) != 0)
                throw reader.Corrupt($"open file {id} has open flags 0x{flags:x} the server never uses");
            handles[i] = (id, node, directory, (int)flags);
        }

        Destroy();
        _inodes.ContinueFrom(nextNode);
        _handles.ContinueFrom(nextHandle);
        int found = 0;
        foreach ((ulong id, ulong lookups, uint type, byte[] path) in nodes)
        {
            byte[] terminated = [.. path, 0];
            int fd = FsLibc.Openat2(_inodes.Root.Handle, terminated, new OpenHow { Flags = FsLibc.OPath | FsLibc.ONofollow | FsLibc.OCloexec, Resolve = ContainedResolve });
            if (fd < 0)
                continue;
            var handle = new FsDescriptor(fd);
            if (Stat(handle, out Statx status) != 0 || (status.Mode & FsLibc.SIfmt) != type)
            {
                handle.Dispose();
                continue;
            }
            if (_inodes.TryRestore(new Inode(id, handle, status.Device, status.Inode, type) { Lookups = lookups }))
                found++;
        }
        int opened = 0;
        foreach ((ulong id, ulong node, bool directory, int flags) in handles)
        {
            // O_TRUNC was done when the guest opened the file; doing it again would cut what it wrote since.
            if (!_inodes.TryGet(node, out Inode inode) || Reopen(inode, flags & ~FsLibc.OTrunc, out FsDescriptor descriptor) != 0)
                continue;
            if (_handles.TryRestore(id, new OpenHandle(descriptor, inode, directory, flags)))
                opened++;
        }
        _logger.Restored(_name, found, nodeCount, opened, handleCount);
    }

    // Why the node cannot be recorded by a path beneath the root, or null with the path: the kernel's name of its
    // descriptor, checked by resolving it again from the root to the same inode (a name may read " (deleted)").
    private string? PathBeneath(string root, Inode inode, out byte[] path)
    {
        path = [];
        string? host = HostPath(inode.Handle);
        if (host is null)
            return "its host path cannot be read";
        string prefix = root == "/" ? "/" : root + "/";
        if (!host.StartsWith(prefix, StringComparison.Ordinal))
            return "it is no longer beneath the share's folder";
        path = Encoding.UTF8.GetBytes(host[prefix.Length..]);
        if (path.Length == 0 || path.Length > MaxRecordedPath)
            return "its path is empty or longer than PATH_MAX";
        byte[] terminated = [.. path, 0];
        int fd = FsLibc.Openat2(_inodes.Root.Handle, terminated, new OpenHow { Flags = FsLibc.OPath | FsLibc.ONofollow | FsLibc.OCloexec, Resolve = ContainedResolve });
        if (fd < 0)
            return $"its path no longer resolves ({Marshal.GetPInvokeErrorMessage(LastErrno())})";
        using var again = new FsDescriptor(fd);
        if (Stat(again, out Statx status) != 0 || (status.Device, status.Inode) != inode.Key)
            return "its path now leads to another file (it was unlinked or replaced)";
        return null;
    }

    // The host's absolute path of one of our descriptors: the /proc/self/fd magic link's text. Names that are not
    // UTF-8 come back with replacement characters and then fail the check in PathBeneath: left out, never misread.
    private string? HostPath(FsDescriptor descriptor)
    {
        Span<byte> name = stackalloc byte[16];
        byte[] target = new byte[MaxRecordedPath + 1];
        nint n;
        using (var proc = new ProcFdName(descriptor, name))
            n = FsLibc.Readlinkat(_procFds, proc.Name, target, (nuint)target.Length);
        if (n <= 0 || n >= target.Length)
            return null;
        return Encoding.UTF8.GetString(target, 0, (int)n);
    }
}
