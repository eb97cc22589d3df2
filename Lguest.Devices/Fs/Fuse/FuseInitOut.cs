using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_init_out: INIT's reply (64 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseInitOut
{
    public uint Major;
    public uint Minor;
    public uint MaxReadahead;
    public uint Flags;
    public ushort MaxBackground;
    public ushort CongestionThreshold;
    public uint MaxWrite;
    public uint TimeGranularity;
    public ushort MaxPages;
    public ushort MapAlignment;
    public uint Flags2;
    public FuseUnused7 Unused;
}
