using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_link_in: LINK's argument (the node to link), then the new name.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseLinkIn
{
    public ulong OldNodeId;
}
