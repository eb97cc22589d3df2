using System.Runtime.InteropServices;

namespace Lguest.Boot;

/// <summary>
/// The real-mode kernel header (struct setup_header, arch/x86/include/uapi/asm/bootparam.h), as it
/// sits in a bzImage at offset 0x1f1 and in the zero page at the same offset. Field offsets below
/// are relative to 0x1f1; the comments give the absolute offset and protocol version from
/// Documentation/x86/boot.rst. Packed: several fields are unaligned.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public struct SetupHeader
{
    /// <summary>sizeof(struct setup_header): 0x1f1 to 0x26c.</summary>
    public const int Size = 0x7b;

    /// <summary>Where the header starts in a bzImage and in the zero page.</summary>
    public const int OffsetInImage = 0x1f1;

    /// <summary>The value of <see cref="Header"/>: "HdrS" read little-endian.</summary>
    public const uint HdrSMagic = 0x5372_6448;

    /// <summary>The value of <see cref="BootFlag"/>: the old boot-sector signature.</summary>
    public const ushort BootFlagMagic = 0xAA55;

    /// <summary>0x1f1, all protocols: setup size in 512-byte sectors, not counting the boot sector; 0 means 4.</summary>
    [FieldOffset(0x00)] public byte SetupSects;

    /// <summary>0x1f2: root read-only flag (obsolete).</summary>
    [FieldOffset(0x01)] public ushort RootFlags;

    /// <summary>0x1f4, 32 bits since 2.04: size of the protected-mode code in 16-byte units.</summary>
    [FieldOffset(0x03)] public uint SysSize;

    /// <summary>0x1f8: obsolete.</summary>
    [FieldOffset(0x07)] public ushort RamSize;

    /// <summary>0x1fa: video mode control.</summary>
    [FieldOffset(0x09)] public ushort VidMode;

    /// <summary>0x1fc: default root device (obsolete).</summary>
    [FieldOffset(0x0b)] public ushort RootDev;

    /// <summary>0x1fe: 0xAA55.</summary>
    [FieldOffset(0x0d)] public ushort BootFlag;

    /// <summary>0x200, 2.00+: a short jump; its second byte (0x201) gives the header's end as 0x202 + that byte.</summary>
    [FieldOffset(0x0f)] public ushort Jump;

    /// <summary>0x202, 2.00+: the magic "HdrS".</summary>
    [FieldOffset(0x11)] public uint Header;

    /// <summary>0x206, 2.00+: the boot protocol version, major in the high byte (0x020f is 2.15).</summary>
    [FieldOffset(0x15)] public ushort Version;

    /// <summary>0x208, 2.00+: boot loader hook (unused here).</summary>
    [FieldOffset(0x17)] public uint RealmodeSwtch;

    /// <summary>0x20c, 2.00+: load-low segment (obsolete).</summary>
    [FieldOffset(0x1b)] public ushort StartSysSeg;

    /// <summary>0x20e, 2.00+: pointer to the kernel version string, relative to 0x200.</summary>
    [FieldOffset(0x1d)] public ushort KernelVersion;

    /// <summary>0x210, 2.00+: boot loader identifier; 0xFF means undefined.</summary>
    [FieldOffset(0x1f)] public byte TypeOfLoader;

    /// <summary>0x211, 2.00+: boot protocol option flags (<see cref="Boot.LoadFlags"/>).</summary>
    [FieldOffset(0x20)] public LoadFlags LoadFlags;

    /// <summary>0x212, 2.00+: move to high memory size (used with hooks).</summary>
    [FieldOffset(0x21)] public ushort SetupMoveSize;

    /// <summary>0x214, 2.00+: the 32-bit entry point, where the protected-mode kernel is loaded.</summary>
    [FieldOffset(0x23)] public uint Code32Start;

    /// <summary>0x218, 2.00+: initrd load address (low 32 bits).</summary>
    [FieldOffset(0x27)] public uint RamdiskImage;

    /// <summary>0x21c, 2.00+: initrd size (low 32 bits).</summary>
    [FieldOffset(0x2b)] public uint RamdiskSize;

    /// <summary>0x220, 2.00+: obsolete.</summary>
    [FieldOffset(0x2f)] public uint BootsectKludge;

    /// <summary>0x224, 2.01+: end of the real-mode setup heap, relative to the setup's start, minus 0x200.</summary>
    [FieldOffset(0x33)] public ushort HeapEndPtr;

    /// <summary>0x226, 2.02+: extended boot loader version.</summary>
    [FieldOffset(0x35)] public byte ExtLoaderVer;

    /// <summary>0x227, 2.02+: extended boot loader type.</summary>
    [FieldOffset(0x36)] public byte ExtLoaderType;

    /// <summary>0x228, 2.02+: physical address of the command line (low 32 bits).</summary>
    [FieldOffset(0x37)] public uint CmdLinePtr;

    /// <summary>0x22c, 2.03+: the highest address the initrd's last byte may occupy.</summary>
    [FieldOffset(0x3b)] public uint InitrdAddrMax;

    /// <summary>0x230, 2.05+: physical alignment the (relocatable) kernel wants.</summary>
    [FieldOffset(0x3f)] public uint KernelAlignment;

    /// <summary>0x234, 2.05+: nonzero when the kernel may be loaded at any suitably aligned address.</summary>
    [FieldOffset(0x43)] public byte RelocatableKernel;

    /// <summary>0x235, 2.10+: the minimum alignment, as a power of two.</summary>
    [FieldOffset(0x44)] public byte MinAlignment;

    /// <summary>0x236, 2.12+: what the kernel can do (<see cref="Boot.XLoadFlags"/>).</summary>
    [FieldOffset(0x45)] public XLoadFlags XLoadFlags;

    /// <summary>0x238, 2.06+: the longest command line the kernel accepts, not counting the NUL.</summary>
    [FieldOffset(0x47)] public uint CmdlineSize;

    /// <summary>0x23c, 2.07+: the hardware subarchitecture (0 PC, 1 lguest, 2 Xen...).</summary>
    [FieldOffset(0x4b)] public uint HardwareSubarch;

    /// <summary>0x240, 2.07+: subarchitecture-specific data.</summary>
    [FieldOffset(0x4f)] public ulong HardwareSubarchData;

    /// <summary>0x248, 2.08+: offset of the compressed kernel payload from the protected-mode code's start.</summary>
    [FieldOffset(0x57)] public uint PayloadOffset;

    /// <summary>0x24c, 2.08+: length of the compressed kernel payload.</summary>
    [FieldOffset(0x5b)] public uint PayloadLength;

    /// <summary>0x250, 2.09+: physical address of a linked list of struct setup_data (0 for none).</summary>
    [FieldOffset(0x5f)] public ulong SetupData;

    /// <summary>0x258, 2.10+: the preferred load address of a relocatable kernel.</summary>
    [FieldOffset(0x67)] public ulong PrefAddress;

    /// <summary>0x260, 2.10+: linear memory the kernel needs from its runtime start before it reads the memory map.</summary>
    [FieldOffset(0x6f)] public uint InitSize;

    /// <summary>0x264, 2.11+: offset of the EFI handover entry point.</summary>
    [FieldOffset(0x73)] public uint HandoverOffset;

    /// <summary>0x268, 2.15+: offset of struct kernel_info from the protected-mode code's start.</summary>
    [FieldOffset(0x77)] public uint KernelInfoOffset;

    /// <summary>The protocol's major number (2 for every bzImage).</summary>
    public readonly int VersionMajor => Version >> 8;

    /// <summary>The protocol's minor number (15 for 2.15).</summary>
    public readonly int VersionMinor => Version & 0xff;
}
