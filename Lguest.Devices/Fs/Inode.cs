using Lguest.Devices.Interop;

namespace Lguest.Devices;

/// <summary>
/// One host inode the guest knows by a node id: an O_PATH handle of it (which pins the inode, so its number
/// cannot be reused while the guest holds the node) and how many lookups the guest has not yet forgotten.
/// </summary>
internal sealed class Inode(ulong nodeId, FsDescriptor handle, ulong device, ulong number, uint type)
{
    /// <summary>The FUSE node id: never reused while the file system lives.</summary>
    public ulong NodeId { get; } = nodeId;

    /// <summary>The O_PATH handle every operation on the inode goes through.</summary>
    public FsDescriptor Handle { get; } = handle;

    /// <summary>The host device and inode number: the same file found twice is the same node.</summary>
    public (ulong Device, ulong Number) Key { get; } = (device, number);

    /// <summary>The S_IFMT bits (an inode never changes type).</summary>
    public uint Type { get; } = type;

    /// <summary>Lookups the guest holds (FUSE's nlookup); guarded by the table's lock.</summary>
    public ulong Lookups { get; set; }

    public bool IsDirectory => Type == FsLibc.SIfdir;

    public bool IsRegularFile => Type == FsLibc.SIfreg;

    public bool IsSymlink => Type == FsLibc.SIflnk;
}
