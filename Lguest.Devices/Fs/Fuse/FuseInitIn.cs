using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_init_in: INIT's argument (64 bytes); <c>Flags2</c> only with FUSE_INIT_EXT.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseInitIn
{
    public uint Major;
    public uint Minor;
    public uint MaxReadahead;
    public uint Flags;
    public uint Flags2;
    public FuseUnused11 Unused;
}
