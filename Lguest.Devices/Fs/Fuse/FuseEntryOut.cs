using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_entry_out: a name's node (LOOKUP, MKNOD, MKDIR, SYMLINK, LINK, CREATE, READDIRPLUS), 128 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseEntryOut
{
    public ulong NodeId;
    public ulong Generation;
    public ulong EntryValid;
    public ulong AttrValid;
    public uint EntryValidNsec;
    public uint AttrValidNsec;
    public FuseAttr Attr;
}
