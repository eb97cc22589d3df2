using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_attr_out: GETATTR's and SETATTR's reply (104 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseAttrOut
{
    public ulong AttrValid;
    public uint AttrValidNsec;
    public uint Dummy;
    public FuseAttr Attr;
}
