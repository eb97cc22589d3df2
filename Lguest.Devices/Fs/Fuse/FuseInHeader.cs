using System.Runtime.InteropServices;

namespace Lguest.Devices;

/// <summary>struct fuse_in_header, &lt;linux/fuse.h&gt;: the head of every request (40 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseInHeader
{
    public uint Length;
    public uint Opcode;
    public ulong Unique;
    public ulong NodeId;
    public uint Uid;
    public uint Gid;
    public uint Pid;
    public ushort TotalExtensionLength;
    public ushort Padding;
}
