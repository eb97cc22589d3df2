using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_rename2_in: RENAME2's argument, then the old and new names.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseRename2In
{
    public ulong NewDirectory;
    public uint Flags;
    public uint Padding;
}
