using Lguest.Devices.Interop;

namespace Lguest.Devices;

/// <summary>
/// The nodes the guest holds, by node id and by host inode, bounded: each holds a host descriptor, and a
/// guest that looks names up and never sends FORGET must not run the host out of them. Past the cap a
/// lookup fails with ENFILE until the guest forgets some. Thread-safe.
/// </summary>
internal sealed class InodeTable : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, Inode> _byNode = [];
    private readonly Dictionary<(ulong, ulong), Inode> _byKey = [];
    private readonly int _capacity;
    private ulong _nextNode = FuseConstants.RootId + 1;

    /// <summary>Creates the table with the root (node 1) in it, which the guest never forgets.</summary>
    public InodeTable(Inode root, int capacity)
    {
        Root = root;
        _capacity = capacity;
        _byNode.Add(root.NodeId, root);
        _byKey.Add(root.Key, root);
    }

    public Inode Root { get; }

    /// <summary>The most nodes the table holds, the root included.</summary>
    public int Capacity => _capacity;

    /// <summary>How many nodes the table holds (the root included).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
                return _byNode.Count;
        }
    }

    /// <summary>The node <paramref name="node"/>, or false for one the file system never gave or the guest forgot.</summary>
    public bool TryGet(ulong node, out Inode inode)
    {
        lock (_lock)
            return _byNode.TryGetValue(node, out inode!);
    }

    /// <summary>
    /// Counts one lookup of the inode <paramref name="handle"/> refers to: the node it already has (and the
    /// new handle is closed), or a new node that takes the handle. Returns 0, or ENFILE when the table is full
    /// (the handle is closed); <paramref name="full"/> says the cap was met.
    /// </summary>
    public int Register(FsDescriptor handle, in Statx status, out Inode inode, out bool full)
    {
        (ulong, ulong) key = (status.Device, status.Inode);
        full = false;
        lock (_lock)
        {
            if (_byKey.TryGetValue(key, out inode!))
            {
                inode.Lookups++;
                handle.Dispose();
                return 0;
            }
            if (_byNode.Count >= _capacity)
            {
                full = true;
                handle.Dispose();
                return Errno.ENFILE;
            }
            inode = new Inode(_nextNode++, handle, status.Device, status.Inode, status.Mode & FsLibc.SIfmt) { Lookups = 1 };
            _byNode.Add(inode.NodeId, inode);
            _byKey.Add(key, inode);
            return 0;
        }
    }

    /// <summary>Drops <paramref name="lookups"/> lookups of <paramref name="node"/>; at zero the node and its handle go. Unknown nodes and the root are ignored.</summary>
    public void Forget(ulong node, ulong lookups)
    {
        Inode? gone = null;
        lock (_lock)
        {
            if (node == Root.NodeId || !_byNode.TryGetValue(node, out Inode? inode))
                return;
            inode.Lookups -= Math.Min(lookups, inode.Lookups);
            if (inode.Lookups == 0)
            {
                _byNode.Remove(node);
                _byKey.Remove(inode.Key);
                gone = inode;
            }
        }
        // Outside the lock: a request still using the handle keeps it open until its call returns.
        gone?.Handle.Dispose();
    }

    /// <summary>The next node id, for a snapshot: ids are never reused, across a restore too.</summary>
    public ulong NextNode
    {
        get
        {
            lock (_lock)
                return _nextNode;
        }
    }

    /// <summary>Every node but the root, for a snapshot.</summary>
    public Inode[] AllButRoot()
    {
        lock (_lock)
            return [.. _byNode.Values.Where(i => i != Root)];
    }

    /// <summary>
    /// Puts back a node a snapshot held (the table holds only the root), by its old id; false, with the handle closed,
    /// when its id or its host inode is already there (the share changed: two names lead to one file now).
    /// </summary>
    public bool TryRestore(Inode inode)
    {
        lock (_lock)
        {
            if (_byNode.Count < _capacity && !_byNode.ContainsKey(inode.NodeId) && !_byKey.ContainsKey(inode.Key))
            {
                _byNode.Add(inode.NodeId, inode);
                _byKey.Add(inode.Key, inode);
                return true;
            }
        }
        inode.Handle.Dispose();
        return false;
    }

    /// <summary>Continues the ids after a restore where the snapshot's left off.</summary>
    public void ContinueFrom(ulong nextNode)
    {
        lock (_lock)
            _nextNode = Math.Max(_nextNode, nextNode);
    }

    /// <summary>Forgets every node but the root (DESTROY, a device reset).</summary>
    public void Clear()
    {
        Inode[] gone;
        lock (_lock)
        {
            gone = _byNode.Values.Where(i => i != Root).ToArray();
            _byNode.Clear();
            _byKey.Clear();
            _byNode.Add(Root.NodeId, Root);
            _byKey.Add(Root.Key, Root);
        }
        foreach (Inode inode in gone)
            inode.Handle.Dispose();
    }

    public void Dispose()
    {
        Clear();
        Root.Handle.Dispose();
    }
}
