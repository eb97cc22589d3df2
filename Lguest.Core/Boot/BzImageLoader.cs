using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Lguest.Memory;

namespace Lguest.Boot;

/// <summary>
/// Reads and places a bzImage by the x86 Linux boot protocol (Documentation/x86/boot.rst), 2.06 or
/// later: the real-mode setup (setup_sects + 1 sectors) is skipped, the protected-mode code is
/// copied whole, and the kernel decompresses itself. Every header field that steers the load is
/// checked against the file and guest RAM before anything is written.
/// </summary>
internal static class BzImageLoader
{
    /// <summary>The oldest protocol accepted: 2.06 gives cmdline_size, so the command line can be checked.</summary>
    public const ushort MinimumVersion = 0x0206;

    /// <summary>Bytes read from the start of the file to find and parse the header (the boot sector and the header after it).</summary>
    public const int ProbeSize = 1024;

    /// <summary>The 64-bit entry's offset from the load address (XLF_KERNEL_64), boot.rst "64-bit boot protocol".</summary>
    public const ulong Entry64Offset = 0x200;

    private const int SectorSize = 512;
    private const int MagicOffset = 0x202;        // "HdrS"
    private const int JumpTargetOffset = 0x201;   // the jump's displacement: the header ends at 0x202 + it
    private const int HeaderRegionEnd = 0x290;    // the zero page keeps the header up to its _pad7 end at 0x290
    private const int Protocol206End = 0x23c;     // the header's end in protocol 2.06 (after cmdline_size)
    private const ulong LegacyLoadAddress = 0x100000;

    // Protocol versions that introduce the fields read below.
    private const ushort V208PayloadFields = 0x0208;
    private const ushort V210PrefAddressInitSize = 0x020A;
    private const ushort V212XLoadFlags = 0x020C;
    private const ushort V215KernelInfo = 0x020F;

    /// <summary>Whether <paramref name="probe"/> (the file's first bytes) carries the "HdrS" magic.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> probe) =>
        probe.Length >= MagicOffset + 4 && BinaryPrimitives.ReadUInt32LittleEndian(probe[MagicOffset..]) == SetupHeader.HdrSMagic;

    /// <summary>
    /// The setup header in <paramref name="probe"/> (at least <see cref="ProbeSize"/> bytes, zero-padded
    /// past the file's end), as the image has it.
    /// </summary>
    public static SetupHeader ReadHeader(ReadOnlySpan<byte> probe) =>
        MemoryMarshal.Read<SetupHeader>(probe.Slice(SetupHeader.OffsetInImage, SetupHeader.Size));

    /// <summary>The setup header from <paramref name="headerBytes"/> (starting at 0x1f1), fields past their end read as zero.</summary>
    private static SetupHeader ReadHeaderFields(byte[] headerBytes)
    {
        Span<byte> padded = stackalloc byte[SetupHeader.Size];
        headerBytes.AsSpan(0, Math.Min(headerBytes.Length, SetupHeader.Size)).CopyTo(padded);
        return MemoryMarshal.Read<SetupHeader>(padded);
    }

    /// <summary>Checks the bzImage in <paramref name="file"/> and places it in <paramref name="layout"/> for <paramref name="platform"/>.</summary>
    /// <param name="file">The kernel file.</param>
    /// <param name="probe">The file's first <see cref="ProbeSize"/> bytes, zero-padded past its end.</param>
    /// <param name="platform">Where the kernel runs.</param>
    /// <param name="layout">Guest RAM.</param>
    /// <exception cref="KernelImageException">The image is malformed, too old, truncated or does not fit.</exception>
    public static KernelImage Parse(KernelFile file, ReadOnlySpan<byte> probe, BootPlatform platform, GuestMemoryLayout layout)
    {
        SetupHeader h = ReadHeader(probe);
        ulong fileLength = (ulong)file.Length;

        if (h.BootFlag != SetupHeader.BootFlagMagic)
            throw file.Refuse($"has the bzImage magic \"HdrS\" but boot_flag is 0x{h.BootFlag:x4}, not 0xaa55");
        if (h.Version < MinimumVersion)
            throw file.Refuse($"uses boot protocol {h.VersionMajor}.{h.VersionMinor:d2}, too old: 2.06 or later is needed");

        int headerEnd = MagicOffset + probe[JumpTargetOffset];
        if (headerEnd < Protocol206End)
            throw file.Refuse($"has a setup header ending at 0x{headerEnd:x} (the jump at 0x200), too short for protocol {h.VersionMajor}.{h.VersionMinor:d2}");

        // From here on read only what the header holds: bytes past its end are setup code, not fields.
        byte[] headerBytes = probe[SetupHeader.OffsetInImage..Math.Min(headerEnd, HeaderRegionEnd)].ToArray();
        h = ReadHeaderFields(headerBytes);

        // setup_sects counts the setup sectors after the boot sector; 0 means 4 (boot.rst, note 1).
        int setupSects = h.SetupSects == 0 ? 4 : h.SetupSects;
        ulong setupSize = (ulong)(setupSects + 1) * SectorSize;
        if (fileLength <= setupSize)
            throw file.Refuse($"is truncated: setup_sects {h.SetupSects} puts the protected-mode kernel at 0x{setupSize:x}, at or past the end of the {fileLength}-byte file");
        ulong kernelSize = fileLength - setupSize;

        if ((h.LoadFlags & LoadFlags.LoadedHigh) == 0)
            throw file.Refuse("is a zImage (LOADED_HIGH clear in loadflags): only bzImages, loaded at 1 MiB, are supported");

        // syssize is the protected-mode size in 16-byte units, rounded up (and counting a 4-byte CRC).
        if ((ulong)h.SysSize * 16 > kernelSize + 15)
            throw file.Refuse($"is truncated: syssize says 0x{(ulong)h.SysSize * 16:x} bytes of protected-mode kernel but only 0x{kernelSize:x} follow the setup");
        if (h.Version >= V208PayloadFields && (ulong)h.PayloadOffset + h.PayloadLength > kernelSize)
            throw file.Refuse($"has payload_offset 0x{h.PayloadOffset:x} and payload_length 0x{h.PayloadLength:x} pointing past the 0x{kernelSize:x}-byte protected-mode kernel");
        if (h.Version >= V215KernelInfo && h.KernelInfoOffset != 0 && h.KernelInfoOffset >= kernelSize)
            throw file.Refuse($"has kernel_info_offset 0x{h.KernelInfoOffset:x} pointing past the 0x{kernelSize:x}-byte protected-mode kernel");

        bool relocatable = h.RelocatableKernel != 0;
        // The lguest launcher imposes 16 MiB (CONFIG_PHYSICAL_ALIGN of its guests) whatever the image says.
        ulong alignment = platform == BootPlatform.Lguest ? LguestLowMemory.KernelAlignment : h.KernelAlignment;
        if (relocatable && (alignment < GuestMemoryLayout.PageSize || !ulong.IsPow2(alignment)))
            throw file.Refuse($"has kernel_alignment 0x{h.KernelAlignment:x}, not a power of two of at least a page");
        bool hasPrefAndInit = h.Version >= V210PrefAddressInitSize;
        ulong prefAddress = hasPrefAndInit ? h.PrefAddress : LegacyLoadAddress;
        ulong initSize = hasPrefAndInit ? h.InitSize : 0;

        GuestAddress load = ChooseLoadAddress(platform, layout, relocatable, alignment, prefAddress, Math.Max(kernelSize, initSize));
        if (!KernelLoader.FitsBelow4G(layout, load.Value, kernelSize))
            throw file.Refuse($"does not fit: its 0x{kernelSize:x}-byte protected-mode kernel at {load} is not inside guest RAM below 4 GiB ({KernelLoader.DescribeRam(layout)})");

        // The kernel's runtime start, where it needs init_size bytes before it reads the memory map
        // (boot.rst, init_size, as corrected in 2023 to honour pref_address for relocatable kernels too).
        ulong runtimeStart;
        if (relocatable)
        {
            ulong from = Math.Max(load.Value, prefAddress);
            if (from > ulong.MaxValue - alignment)
                throw file.Refuse($"has pref_address 0x{prefAddress:x}, which cannot be aligned to 0x{alignment:x}");
            runtimeStart = (from + alignment - 1) & ~(alignment - 1);
        }
        else
        {
            runtimeStart = hasPrefAndInit ? prefAddress : load.Value;
        }
        var reserved = new List<BootMemoryRange>();
        if (initSize != 0)
        {
            if (!KernelLoader.FitsBelow4G(layout, runtimeStart, initSize))
                throw file.Refuse($"does not fit: it needs init_size 0x{initSize:x} bytes of RAM from its runtime start 0x{runtimeStart:x}, beyond guest RAM below 4 GiB ({KernelLoader.DescribeRam(layout)})");
            reserved.Add(new BootMemoryRange("kernel init area", new GuestAddress(runtimeStart), initSize));
        }

        GuestAddress entry32;
        if (platform == BootPlatform.Lguest)
        {
            // The lguest launcher enters at code32_start as the header has it; it must lie in the code loaded.
            if (h.Code32Start < load.Value || h.Code32Start - load.Value >= kernelSize)
                throw file.Refuse($"has code32_start 0x{h.Code32Start:x}, outside the protected-mode kernel loaded at [{load}, +0x{kernelSize:x})");
            entry32 = new GuestAddress(h.Code32Start);
        }
        else
        {
            // The 32-bit entry is the start of the protected-mode code wherever it was loaded.
            entry32 = load;
        }
        GuestAddress? entry64 = h.Version >= V212XLoadFlags && (h.XLoadFlags & XLoadFlags.Kernel64) != 0
            ? new GuestAddress(load.Value + Entry64Offset)
            : null;

        return new KernelImage
        {
            Format = BootProtocolKind.BzImage,
            Segments = [new KernelSegment("kernel", load, (long)setupSize, kernelSize, kernelSize)],
            Reserved = reserved,
            KernelAddress = load,
            Entry32 = entry32,
            Entry64 = entry64,
            Header = h,
            HeaderBytes = headerBytes,
            CmdlineSize = h.CmdlineSize,
            InitrdAddrMax = h.InitrdAddrMax,
        };
    }

    /// <summary>
    /// 1 MiB, as the lguest launcher and QEMU load; on KVM a relocatable kernel goes to its
    /// pref_address instead when that is aligned and the kernel fits there, which spares the
    /// decompressor moving itself.
    /// </summary>
    private static GuestAddress ChooseLoadAddress(BootPlatform platform, GuestMemoryLayout layout, bool relocatable, ulong alignment, ulong prefAddress, ulong footprint)
    {
        if (platform == BootPlatform.Pc && relocatable && prefAddress >= PcLowMemory.HighMemory
            && (prefAddress & (alignment - 1)) == 0 && KernelLoader.FitsBelow4G(layout, prefAddress, footprint))
            return new GuestAddress(prefAddress);
        return new GuestAddress(platform == BootPlatform.Lguest ? LguestLowMemory.KernelLoadAddress : LegacyLoadAddress);
    }
}
