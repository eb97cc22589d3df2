namespace Lguest.Devices;

/// <summary>
/// The open files and directories by handle id, bounded like <see cref="InodeTable"/>: a guest that opens
/// and never releases gets EMFILE past the cap, not the host's last descriptor. Ids are never reused while
/// the file system lives, so a stale handle from the guest names nothing. Thread-safe.
/// </summary>
internal sealed class HandleTable(int capacity) : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, OpenHandle> _handles = [];
    private ulong _next = 1;

    /// <summary>The most handles open at once.</summary>
    public int Capacity => capacity;

    public int Count
    {
        get
        {
            lock (_lock)
                return _handles.Count;
        }
    }

    /// <summary>Adds <paramref name="open"/>; returns 0 and its id, or EMFILE when the table is full (the descriptor is closed).</summary>
    public int Add(OpenHandle open, out ulong id, out bool full)
    {
        lock (_lock)
        {
            full = _handles.Count >= capacity;
            if (!full)
            {
                id = _next++;
                _handles.Add(id, open);
                return 0;
            }
        }
        id = 0;
        open.Descriptor.Dispose();
        return Errno.EMFILE;
    }

    /// <summary>The handle <paramref name="id"/> when it is of the kind asked for; false otherwise.</summary>
    public bool TryGet(ulong id, bool directory, out OpenHandle open)
    {
        lock (_lock)
            return _handles.TryGetValue(id, out open!) && open.IsDirectory == directory;
    }

    /// <summary>Removes and closes the handle <paramref name="id"/> of the kind asked for; false when there is none.</summary>
    public bool Remove(ulong id, bool directory)
    {
        OpenHandle? open;
        lock (_lock)
        {
            if (!_handles.TryGetValue(id, out open) || open.IsDirectory != directory)
                return false;
            _handles.Remove(id);
        }
        open.Descriptor.Dispose();
        return true;
    }

    /// <summary>The next handle id, for a snapshot.</summary>
    public ulong Next
    {
        get
        {
            lock (_lock)
                return _next;
        }
    }

    /// <summary>Every handle by id, for a snapshot.</summary>
    public KeyValuePair<ulong, OpenHandle>[] All()
    {
        lock (_lock)
            return [.. _handles];
    }

    /// <summary>Puts back a handle a snapshot held, by its old id; false (the descriptor closed) when the id is taken or the table full.</summary>
    public bool TryRestore(ulong id, OpenHandle open)
    {
        lock (_lock)
        {
            if (_handles.Count < capacity && id != 0 && _handles.TryAdd(id, open))
            {
                _next = Math.Max(_next, id + 1);
                return true;
            }
        }
        open.Descriptor.Dispose();
        return false;
    }

    /// <summary>Continues the ids after a restore where the snapshot's left off.</summary>
    public void ContinueFrom(ulong next)
    {
        lock (_lock)
            _next = Math.Max(_next, next);
    }

    /// <summary>Closes every handle.</summary>
    public void Clear()
    {
        OpenHandle[] all;
        lock (_lock)
        {
            all = [.. _handles.Values];
            _handles.Clear();
        }
        foreach (OpenHandle open in all)
            open.Descriptor.Dispose();
    }

    public void Dispose() => Clear();
}
