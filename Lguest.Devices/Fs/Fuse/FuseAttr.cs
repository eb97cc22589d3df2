using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_attr: an inode's attributes as the guest kernel caches them (88 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseAttr
{
    public ulong Ino;
    public ulong Size;
    public ulong Blocks;
    public ulong Atime;
    public ulong Mtime;
    public ulong Ctime;
    public uint AtimeNsec;
    public uint MtimeNsec;
    public uint CtimeNsec;
    public uint Mode;
    public uint Nlink;
    public uint Uid;
    public uint Gid;
    public uint Rdev;
    public uint BlockSize;
    public uint Flags;
}
