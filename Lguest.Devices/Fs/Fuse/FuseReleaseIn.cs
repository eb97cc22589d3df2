using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_release_in: RELEASE's and RELEASEDIR's argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseReleaseIn
{
    public ulong Handle;
    public uint Flags;
    public uint ReleaseFlags;
    public ulong LockOwner;
}
