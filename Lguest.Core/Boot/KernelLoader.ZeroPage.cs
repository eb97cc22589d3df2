using System.Runtime.InteropServices;
using Lguest.Memory;

namespace Lguest.Boot;

// The zero page (struct boot_params) for the 32- and 64-bit boot protocols, filled as boot.rst asks of
// a loader that skips the real-mode setup code: the image's setup header copied in, then the fields a
// loader writes. On lguest the launcher's own overrides follow (the seeds' main()).
public static partial class KernelLoader
{
    /// <summary>TYPE_OF_LOADER: 0xFF, "undefined", as the lguest launcher, Firecracker and kvmtool say.</summary>
    private const byte TypeOfLoaderUndefined = 0xFF;

    /// <summary>
    /// heap_end_ptr: the end of the setup heap relative to the real-mode code, minus 0x200. The setup
    /// code never runs here; the value is what a loader with the real-mode segment ending at
    /// 0x10000 would write, as QEMU does.
    /// </summary>
    private const ushort HeapEndPtr = 0xFE00;

    /// <summary>The protocol a made-up header (for an ELF vmlinux) claims: 2.15, whose fields this loader fills.</summary>
    private const ushort SynthesizedVersion = 0x020F;

    /// <summary>Protocol 2.14 added acpi_rsdp_addr.</summary>
    private const ushort AcpiRsdpVersion = 0x020E;

    private const uint X86SubarchPc = 0;

    private static void WriteZeroPage(GuestMemory memory, GuestAddress at, KernelImage image, BootPlatform platform,
        GuestAddress commandLine, GuestAddress? acpiRsdp, IReadOnlyList<E820Entry> map, GuestAddress? initrd, ulong initrdSize)
    {
        var bp = new BootParams();
        ushort imageVersion;
        if (image.HeaderFromImage)
        {
            // Copy the header as the image has it, up to its end (boot.rst: "the setup header ... should
            // be copied from the kernel image"); fields past a short header stay zero.
            image.HeaderBytes.CopyTo(MemoryMarshal.AsBytes(new Span<BootParams>(ref bp))[SetupHeader.OffsetInImage..]);
            imageVersion = bp.Hdr.Version;
        }
        else
        {
            bp.Hdr.BootFlag = SetupHeader.BootFlagMagic;
            bp.Hdr.Header = SetupHeader.HdrSMagic;
            bp.Hdr.Version = SynthesizedVersion;
            bp.Hdr.LoadFlags = LoadFlags.LoadedHigh;
            bp.Hdr.CmdlineSize = image.CmdlineSize;
            bp.Hdr.InitrdAddrMax = (uint)Math.Min(image.InitrdAddrMax, uint.MaxValue);
            imageVersion = SynthesizedVersion;
        }

        ref SetupHeader h = ref bp.Hdr;
        h.TypeOfLoader = TypeOfLoaderUndefined;
        h.LoadFlags |= LoadFlags.CanUseHeap;
        h.HeapEndPtr = HeapEndPtr;
        h.CmdLinePtr = (uint)commandLine.Value;
        bp.ExtCmdLinePtr = (uint)(commandLine.Value >> 32);
        if (initrd is { } initrdAt)
        {
            h.RamdiskImage = (uint)initrdAt.Value;
            h.RamdiskSize = (uint)initrdSize;
            bp.ExtRamdiskImage = (uint)(initrdAt.Value >> 32);
            bp.ExtRamdiskSize = (uint)(initrdSize >> 32);
        }
        // A setup_data list in the image would point into memory this loader never filled.
        h.SetupData = 0;
        h.HardwareSubarchData = 0;
        if (image.Format == BootProtocolKind.BzImage && platform == BootPlatform.Pc)
            h.Code32Start = (uint)image.KernelAddress.Value; // boot.rst: set to where the protected-mode code was loaded
        if (acpiRsdp is { } rsdp && imageVersion >= AcpiRsdpVersion)
            bp.AcpiRsdpAddr = rsdp.Value;

        if (platform == BootPlatform.Lguest)
        {
            // The lguest launcher's zero page, field for field (the seeds' main()).
            h.KernelAlignment = LguestLowMemory.KernelAlignment;
            h.Version = LguestLowMemory.ProtocolVersion;
            h.HardwareSubarch = LguestLowMemory.HardwareSubarch;
            h.LoadFlags |= LoadFlags.KeepSegments;
            bp.TbootAddr = 0;
        }
        else
        {
            h.HardwareSubarch = X86SubarchPc;
        }

        bp.E820Entries = (byte)map.Count; // E820Map.Build keeps it within the table's 128 entries
        for (int i = 0; i < map.Count; i++)
            bp.E820Table[i] = map[i];

        memory.Write(at, bp);
    }
}
