using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_rename_in: RENAME's argument, then the old and new names.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseRenameIn
{
    public ulong NewDirectory;
}
