using System.Runtime.InteropServices;
using Lguest.Boot;

namespace Lguest.Tests.Support;

/// <summary>
/// Builds a minimal bzImage in memory: a boot sector and setup sectors holding a setup header, then
/// protected-mode "code" filled with a recognizable pattern. Defaults describe a modern relocatable
/// 64-bit kernel (protocol 2.15); each test changes the one field it is about.
/// </summary>
internal sealed class BzImageBuilder
{
    private SetupHeader _header;

    public BzImageBuilder()
    {
        _header.SetupSects = 4;
        _header.BootFlag = SetupHeader.BootFlagMagic;
        _header.Header = SetupHeader.HdrSMagic;
        _header.Version = 0x020F;
        _header.LoadFlags = LoadFlags.LoadedHigh;
        _header.Code32Start = 0x100000;
        _header.InitrdAddrMax = 0x7fff_ffff;
        _header.KernelAlignment = 0x20_0000;
        _header.RelocatableKernel = 1;
        _header.MinAlignment = 21;
        _header.XLoadFlags = XLoadFlags.Kernel64 | XLoadFlags.CanBeLoadedAbove4G;
        _header.CmdlineSize = 2047;
        _header.PrefAddress = 0x100_0000;
        _header.InitSize = 0x40_0000;
        _header.VidMode = 0xffff;
    }

    /// <summary>Bytes of protected-mode code after the setup.</summary>
    public int KernelSize { get; set; } = 64 * 1024;

    /// <summary>The byte at offset 0x201: the header ends at 0x202 plus it.</summary>
    public byte JumpDisplacement { get; set; } = 0x26c - 0x202;

    /// <summary>Cut the file to this many bytes after building, or null.</summary>
    public int? TruncateTo { get; set; }

    /// <summary>Leave syssize as set rather than computing it from <see cref="KernelSize"/>.</summary>
    public bool KeepSysSize { get; set; }

    /// <summary>The header to edit in place.</summary>
    public ref SetupHeader Header => ref _header;

    /// <summary>The pattern byte at <paramref name="offset"/> of the protected-mode code.</summary>
    public static byte CodeByte(int offset) => (byte)(offset * 7 + 3);

    public byte[] Build()
    {
        int setupSects = _header.SetupSects == 0 ? 4 : _header.SetupSects;
        int setupSize = (setupSects + 1) * 512;
        var image = new byte[setupSize + KernelSize];
        SetupHeader h = _header;
        if (!KeepSysSize)
            h.SysSize = (uint)((KernelSize + 15) / 16);
        MemoryMarshal.Write(image.AsSpan(SetupHeader.OffsetInImage), in h);
        image[0x200] = 0xEB; // the short jump over the header
        image[0x201] = JumpDisplacement;
        for (int i = 0; i < KernelSize; i++)
            image[setupSize + i] = CodeByte(i);
        return TruncateTo is int n ? image[..n] : image;
    }
}
