using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_dirent without its name: one READDIR record's head (24 bytes); the name follows, padded to 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseDirent
{
    public ulong Ino;
    public ulong Offset;
    public uint NameLength;
    public uint Type;
}
