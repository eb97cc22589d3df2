using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>
/// Builds one READDIR or READDIRPLUS reply body (struct fuse_dirent / fuse_direntplus records, each padded
/// to 8 bytes) in a host buffer of the server's, up to the size the guest asked for. For READDIRPLUS each
/// entry but "." and ".." is looked up (counting a lookup, as FUSE wants) only once it is known to fit; one
/// whose lookup fails goes out without a node (node id 0), which the guest's kernel takes as "no attributes".
/// </summary>
internal sealed class DirectoryReply(IFileSystem fileSystem) : IDirectorySink
{
    private byte[] _buffer = [];
    private int _limit;
    private bool _plus;
    private ulong _directory;

    /// <summary>The bytes of records written so far.</summary>
    public int Used { get; private set; }

    /// <summary>The records, once the file system has filled them.</summary>
    public ReadOnlySpan<byte> Body => _buffer.AsSpan(0, Used);

    /// <summary>Starts a reply of at most <paramref name="limit"/> bytes into <paramref name="buffer"/>.</summary>
    public void Begin(byte[] buffer, int limit, bool plus, ulong directory)
    {
        _buffer = buffer;
        _limit = Math.Min(limit, buffer.Length);
        _plus = plus;
        _directory = directory;
        Used = 0;
    }

    public bool TryAdd(ulong inode, ulong nextOffset, uint type, ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty || name.Length > FileName.MaxLength)
            return true; // no host file system hands these out; skipped rather than sent malformed
        int head = _plus ? FuseConstants.DirentplusSize : FuseConstants.DirentSize;
        int size = (head + name.Length + 7) & ~7;
        if (size > _limit - Used)
            return false;
        Span<byte> record = _buffer.AsSpan(Used, size);
        record.Clear();
        if (_plus)
        {
            FuseEntryOut entry = default;
            if (!name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8))
            {
                Span<byte> terminated = stackalloc byte[FileName.MaxLength + 1];
                name.CopyTo(terminated);
                terminated[name.Length] = 0;
                if (FileName.TryParse(terminated[..(name.Length + 1)], out FileName fileName, out _) != 0
                    || fileSystem.Lookup(_directory, fileName, out entry) != 0)
                    entry = default;
            }
            if (entry.NodeId != 0)
                inode = entry.Attr.Ino;
            MemoryMarshal.Write(record, in entry);
            record = record[(FuseConstants.DirentplusSize - FuseConstants.DirentSize)..];
        }
        var dirent = new FuseDirent { Ino = inode, Offset = nextOffset, NameLength = (uint)name.Length, Type = type };
        MemoryMarshal.Write(record, in dirent);
        name.CopyTo(record[FuseConstants.DirentSize..]);
        Used += size;
        return true;
    }
}
