using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_setattr_in: SETATTR's argument; <c>Valid</c> (FATTR_*) says which fields count (88 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseSetattrIn
{
    public uint Valid;
    public uint Padding;
    public ulong Handle;
    public ulong Size;
    public ulong LockOwner;
    public ulong Atime;
    public ulong Mtime;
    public ulong Ctime;
    public uint AtimeNsec;
    public uint MtimeNsec;
    public uint CtimeNsec;
    public uint Mode;
    public uint Unused4;
    public uint Uid;
    public uint Gid;
    public uint Unused5;
}
